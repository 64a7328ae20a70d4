// Thin client of the revloop /api/v1 API: bearer token, problem+json errors,
// idempotency keys on creation, and a Server-Sent Events reader that can send
// the Authorization header (EventSource cannot).

const TOKEN_KEY = "revloop.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// ApiError carries the problem body the API answered with.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

const listeners = new Set();
// onAuthLost registers a callback run when the API answers 401.
export function onAuthLost(fn) {
  listeners.add(fn);
}

function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// api calls path under /api/v1 and returns the decoded JSON (or text).
export async function api(path, { method = "GET", body, headers = {}, raw = false } = {}) {
  const h = { Accept: "application/json", ...headers };
  const t = getToken();
  if (t) h.Authorization = `Bearer ${t}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (method === "POST" && !h["Idempotency-Key"]) h["Idempotency-Key"] = newKey();
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { title: "API unreachable", detail: "The revloop server does not answer. Check that it is running." });
  }
  if (res.status === 401) listeners.forEach((fn) => fn());
  const type = res.headers.get("Content-Type") || "";
  if (!res.ok) {
    let problem = { title: res.statusText, status: res.status };
    if (type.includes("json")) problem = await res.json();
    throw new ApiError(res.status, problem);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return type.includes("json") ? res.json() : res.text();
}

// listAll follows cursor pagination ({items, next_cursor}) up to max items.
export async function listAll(path, max = 5000) {
  const out = [];
  let cursor = "";
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    const items = Array.isArray(page) ? page : page.items || [];
    out.push(...items);
    cursor = Array.isArray(page) ? "" : page.next_cursor || "";
    if (!cursor || out.length >= max) return out;
  }
}

// stream reads Server-Sent Events from path and calls onEvent(type, data).
// onState receives "live", "stale" or "offline". It reconnects with backoff
// until the returned stop function is called.
export function stream(path, onEvent, onState) {
  let stopped = false;
  let ctrl = null;
  let delay = 1000;
  async function run() {
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const res = await fetch(`/api/v1${path}`, {
          headers: { Accept: "text/event-stream", Authorization: `Bearer ${getToken()}` },
          signal: ctrl.signal,
        });
        if (!res.ok) throw new Error(`stream HTTP ${res.status}`);
        onState("live");
        delay = 1000;
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = "message";
            const data = [];
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) type = line.slice(6).trim();
              else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
            }
            if (data.length) {
              try {
                onEvent(type, JSON.parse(data.join("\n")));
              } catch {
                /* a malformed event is skipped, the stream goes on */
              }
            }
          }
        }
      } catch {
        if (stopped) return;
      }
      onState("offline");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }
  run();
  return () => {
    stopped = true;
    if (ctrl) ctrl.abort();
  };
}
