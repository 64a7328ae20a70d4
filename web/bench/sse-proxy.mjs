// A loopback proxy in front of a revloop server for the live-map benchmark:
// every request goes through to revloop except the live stream, which the
// proxy serves itself, sending position events for the given vehicles at a
// fixed total rate. It measures the page's side alone: can it draw that many
// updates without falling behind?
import { createServer, request } from "node:http";

export function startSSEProxy(target, features, ratePerSecond) {
  const url = new URL(target);
  let sent = 0;
  const timers = new Set();
  const server = createServer((req, res) => {
    if (req.url.startsWith("/api/v1/stream")) {
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
      // Every 10 ms, a tenth of a percent of a second's events.
      const perTick = Math.max(1, Math.round(ratePerSecond / 100));
      let i = 0;
      const t = setInterval(() => {
        let chunk = "";
        for (let k = 0; k < perTick; k++, i++) {
          const f = features[i % features.length];
          const [lon, lat] = f.geometry.coordinates;
          const moved = { ...f, geometry: { type: "Point", coordinates: [lon + ((i % 7) - 3) * 1e-4, lat + ((i % 5) - 2) * 1e-4] } };
          moved.properties = { ...f.properties, ts: new Date().toISOString() };
          chunk += `event: position\ndata: ${JSON.stringify(moved)}\n\n`;
        }
        sent += perTick;
        res.write(chunk);
      }, 10);
      timers.add(t);
      req.on("close", () => {
        clearInterval(t);
        timers.delete(t);
      });
      return;
    }
    const up = request({ host: url.hostname, port: url.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        base: `http://127.0.0.1:${server.address().port}`,
        sent: () => sent,
        close: () => {
          for (const t of timers) clearInterval(t);
          server.closeAllConnections();
          server.close();
        },
      });
    });
  });
}
