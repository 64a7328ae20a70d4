// Benchmark of the live map in headless Chromium: first render with 500
// vehicles and 5,000 bins, then whether the page keeps up with position
// updates at about 10 per second per vehicle. Prints one line of figures.
//   node bench/bench-map.mjs [--vehicles 500] [--bins 5000] [--seconds 30]

import { parseArgs } from "node:util";
import { launchBrowser, shiftMorning, startStack } from "../test/stack.mjs";
import { startSSEProxy } from "./sse-proxy.mjs";

const { values } = parseArgs({ options: { vehicles: { type: "string", default: "500" }, bins: { type: "string", default: "5000" }, seconds: { type: "string", default: "30" } } });
const vehicles = Number(values.vehicles);
const bins = Number(values.bins);
const seconds = Number(values.seconds);

const stack = await startStack({ vehicles, bins, simulate: false });
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  // A first pass fills the latest positions: backfill an hour at high speed.
  // Both phases replay a morning shift, when the fleet is on the road.
  const morning = shiftMorning();
  await stack.simulateFor({ start: morning, durationSeconds: 3600, speedup: 600 });
  await page.goto(stack.base + "/");
  await page.fill("#token", stack.token);
  const t0 = Date.now();
  await page.click("#signin-submit");
  await page.waitForSelector("#live-map[data-ready='1']", { timeout: 60_000 });
  const firstRender = Date.now() - t0;
  const drawn = await page.evaluate(() => ({ v: Number(document.getElementById("live-map").dataset.vehicles), b: Number(document.getElementById("live-map").dataset.bins) }));
  // Then live updates: the simulator catches up on the last minutes at a speed
  // that gives each vehicle about ten fixes per second.
  const before = await page.evaluate(() => ({ n: Number(document.getElementById("live-map").dataset.events || 0), busy: Number(document.getElementById("live-map").dataset.busyMs || 0) }));
  const t1 = Date.now();
  const offered = await stack.simulateFor({ start: new Date(morning.getTime() + 3600e3), durationSeconds: seconds * 45, speedup: 45 });
  const liveSeconds = (Date.now() - t1) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const after = await page.evaluate(() => ({ n: Number(document.getElementById("live-map").dataset.events || 0), busy: Number(document.getElementById("live-map").dataset.busyMs || 0) }));
  const handled = after.n - before.n;
  const busy = after.busy - before.busy;
  const perVehicle = handled / liveSeconds / Math.max(1, drawn.v);
  console.log(
    `console map: first render ${firstRender} ms with ${drawn.v} vehicles and ${drawn.b} bins (target <= 2000 ms: ${firstRender <= 2000 ? "met" : "NOT met"}); ` +
      `live: ${handled} position events in ${liveSeconds.toFixed(0)} s (${perVehicle.toFixed(1)}/s per vehicle; simulator published ${offered} messages), ` +
      `handlers busy ${((busy / (liveSeconds * 1000)) * 100).toFixed(1)} % of the time (keeps up: ${busy < liveSeconds * 1000 * 0.5 ? "yes" : "NO"})`,
  );
  // The page alone at the target rate: a proxy serves the console and API
  // from the stack but feeds the live stream itself at 10 updates/s per
  // vehicle, and the page's handled events and handler time are read back.
  const fc = (await stack.api("/fleet/positions")).body;
  const rate = 10 * fc.features.length;
  const proxy = await startSSEProxy(stack.base, fc.features, rate);
  try {
    const p2 = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await p2.goto(proxy.base + "/");
    await p2.fill("#token", stack.token);
    await p2.click("#signin-submit");
    await p2.waitForSelector("#live-map[data-ready='1']", { timeout: 60_000 });
    const read = () => p2.evaluate(() => ({ n: Number(document.getElementById("live-map").dataset.events || 0), busy: Number(document.getElementById("live-map").dataset.busyMs || 0) }));
    await new Promise((r) => setTimeout(r, 3000));
    const a = await read();
    const s0 = proxy.sent();
    const t2 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const b = await read();
    const el = (Date.now() - t2) / 1000;
    const offeredRate = (proxy.sent() - s0) / el;
    const handledRate = (b.n - a.n) / el;
    console.log(
      `console map, synthetic stream at 10 updates/s per vehicle: offered ${offeredRate.toFixed(0)} events/s, handled ${handledRate.toFixed(0)} events/s ` +
        `(${(handledRate / Math.max(1, fc.features.length)).toFixed(1)}/s per vehicle), handlers busy ${(((b.busy - a.busy) / (el * 1000)) * 100).toFixed(1)} % ` +
        `(keeps up: ${handledRate >= offeredRate * 0.95 ? "yes" : "NO"})`,
    );
  } finally {
    proxy.close();
  }
} finally {
  await browser.close();
  await stack.stop();
}
