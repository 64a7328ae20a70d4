// Small DOM helpers shared by the views.
import { ApiError } from "./api.js";

// h builds an element: h("td", {class: "num"}, "12").
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// table renders rows of cells under headings; numeric columns align right.
export function table(columns, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("div", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)))),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h(
          "tr",
          {},
          columns.map((c) => {
            const v = c.get(r);
            return h("td", { class: c.num ? "num" : undefined }, v instanceof Node ? v : fmt(v));
          }),
        ),
      ),
    ),
  );
}

export function fmt(v) {
  if (v === undefined || v === null || v === "") return "—";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(1);
  return String(v);
}

export function time(ts) {
  if (!ts) return "—";
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toLocaleString();
}

// problemBox shows an API error plainly, with its machine-readable details.
export function problemBox(err) {
  if (!(err instanceof ApiError)) return h("div", { class: "problem", role: "alert" }, String(err));
  const p = err.problem || {};
  const skip = new Set(["type", "title", "status", "detail", "instance"]);
  const extras = Object.entries(p).filter(([k]) => !skip.has(k));
  return h(
    "div",
    { class: "problem", role: "alert", "data-problem-type": p.type || "" },
    h("strong", {}, p.title || "Request failed"),
    p.detail ? h("div", {}, p.detail) : null,
    extras.length
      ? h("dl", {}, extras.flatMap(([k, v]) => [h("dt", {}, k.replaceAll("_", " ")), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : fmt(v))]))
      : null,
  );
}

export function banner(text, bad = false) {
  const b = document.getElementById("banner");
  b.textContent = text || "";
  b.hidden = !text;
  b.classList.toggle("bad", bad);
}

export function isoDate(d) {
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

// sparkline draws values as a small inline SVG line.
export function sparkline(values, width = 240, height = 60) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  if (values.length > 1) {
    const pts = values.map((v, i) => `${((i / (values.length - 1)) * (width - 4) + 2).toFixed(1)},${(height - 2 - (Math.max(0, Math.min(100, v)) / 100) * (height - 4)).toFixed(1)}`);
    const pl = document.createElementNS(ns, "polyline");
    pl.setAttribute("points", pts.join(" "));
    pl.setAttribute("fill", "none");
    pl.setAttribute("stroke", "#1f77b4");
    pl.setAttribute("stroke-width", "2");
    svg.append(pl);
  }
  return svg;
}
