// Copies the pinned front-end libraries from node_modules into static/vendor,
// where the Go binary embeds them; run after `npm ci` when a pin changes.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const dest = join(root, "static", "vendor", "leaflet");
mkdirSync(dest, { recursive: true });
const src = join(root, "node_modules", "leaflet", "dist");
for (const f of ["leaflet.js", "leaflet.css", "images"]) {
  cpSync(join(src, f), join(dest, f), { recursive: true });
}
writeFileSync(join(root, "static", "vendor", "VERSIONS"), `leaflet ${pkg.dependencies.leaflet}\n`);
console.log(`vendored leaflet ${pkg.dependencies.leaflet} into static/vendor`);
