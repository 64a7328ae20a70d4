// Starts a whole revloop stack for browser tests and benchmarks: a fresh data
// directory, the demo world seeded with per-device credentials, an admin
// token, `revloop serve` on free loopback ports and `revloop simulate`
// feeding it. stop() ends both processes and removes the data.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const BIN = resolve(process.env.REVLOOP_BIN || join(import.meta.dirname, "..", "..", "bin", "revloop"));

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

function run(args, env) {
  return execFileSync(BIN, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

// shiftMorning returns the latest past 08:00 UTC (09:00 in the simulated
// city) of a day other than Sunday, so that a simulation started there finds
// the fleet on the road whatever the hour the tests run.
export function shiftMorning(now = new Date()) {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 8));
  while (d > now || d.getUTCDay() === 0) d.setUTCDate(d.getUTCDate() - 1);
  return d;
}

export async function startStack({ vehicles = 10, bins = 100, speedup = 300, seed = 7, simulate = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "revloop-web-"));
  const http = await freePort();
  const mqtt = await freePort();
  const env = { ...process.env, REVLOOP_DATA_DIR: dir, REVLOOP_LOG_LEVEL: "warn" };
  run(["migrate"], env);
  const world = join(dir, "world.json");
  run(["simulate", "--seed", String(seed), "--vehicles", String(vehicles), "--bins", String(bins), "--world-out", world, "--world-only"], env);
  const secrets = join(dir, "secrets.csv");
  run(["seed", "--world", world, "--secrets-out", secrets], env);
  const token = run(["token", "create", "--role", "admin", "--name", "browser-test"], env).trim().split("\n").pop();
  const procs = [];
  const serve = spawn(BIN, ["serve", "--http-addr", `127.0.0.1:${http}`, "--mqtt-addr", `127.0.0.1:${mqtt}`], { env, stdio: ["ignore", "inherit", "inherit"] });
  procs.push(serve);
  const base = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error("revloop serve did not become healthy in 20 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  const simArgs = ["simulate", "--seed", String(seed), "--vehicles", String(vehicles), "--bins", String(bins), "--mqtt-url", `tcp://127.0.0.1:${mqtt}`, "--credentials", secrets];
  let sim = null;
  if (simulate) {
    // Replay from this morning at speedup until it catches up with the clock.
    sim = spawn(BIN, [...simArgs, "--start", shiftMorning().toISOString(), "--speedup", String(speedup), "--stats-every", "1h"], { env, stdio: ["ignore", "ignore", "inherit"] });
    procs.push(sim);
  }
  return {
    base,
    token,
    dir,
    world: JSON.parse(readFileSync(world, "utf8")),
    async api(path, opts = {}) {
      const res = await fetch(`${base}/api/v1${path}`, {
        method: opts.method || "GET",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...(opts.headers || {}) },
        body: opts.body ? JSON.stringify(opts.body) : undefined,
      });
      const text = await res.text();
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body };
    },
    stopSimulator() {
      if (sim) sim.kill("SIGINT");
    },
    // simulateFor replays durationSeconds of simulated time from start (a
    // past Date) at speedup and resolves with the messages it sent.
    simulateFor({ start, durationSeconds, speedup }) {
      return new Promise((resolve, reject) => {
        const p = spawn(BIN, [...simArgs, "--start", start.toISOString(), "--speedup", String(speedup), "--duration", `${durationSeconds}s`, "--stats-every", "1s"],
          { env, stdio: ["ignore", "ignore", "pipe"] });
        let last = "";
        p.stderr.on("data", (d) => {
          last = String(d).trim().split("\n").pop() || last;
        });
        p.on("error", reject);
        p.on("exit", () => {
          const m = /sent (\d+)/.exec(last);
          resolve(m ? Number(m[1]) : 0);
        });
      });
    },
    async stop() {
      for (const p of procs.reverse()) {
        if (p.exitCode === null) {
          p.kill("SIGINT");
          await new Promise((r) => p.once("exit", r));
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// launchBrowser starts Debian's Chromium headless through playwright-core,
// with no browser download.
export async function launchBrowser() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
