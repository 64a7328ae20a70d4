// Plan: run the planner for a date, see the routes on the map with ETAs,
// commit, re-plan after removing a vehicle; planned vs actual per stop.
import { api } from "./api.js";
import { h, isoDate, problemBox, table, time } from "./ui.js";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

export async function mount(root, { config }) {
  const tomorrow = new Date(Date.now() + 86400e3);
  const date = h("input", { type: "date", id: "plan-date", value: isoDate(tomorrow) });
  const forecast = h("input", { type: "checkbox", id: "plan-forecast", checked: true });
  const out = h("div", { id: "plan-out" });
  const msg = h("div", { id: "plan-msg" });
  const mapEl = h("div", { class: "map", id: "plan-map", style: "height:420px" });
  let plan = null;
  let map = null;
  let layer = null;

  function draw() {
    if (typeof L === "undefined") return;
    if (!map) {
      map = L.map(mapEl, { preferCanvas: true }).setView([51.05, 3.72], 11);
      if (config.tile_url) L.tileLayer(config.tile_url, { maxZoom: 19, attribution: config.tile_attribution || "" }).addTo(map);
    }
    if (layer) layer.remove();
    if (!plan || !plan.geojson) return;
    let i = 0;
    const colorOf = new Map();
    layer = L.geoJSON(plan.geojson, {
      style: (f) => {
        const v = (f.properties && f.properties.vehicle_id) || "";
        if (!colorOf.has(v)) colorOf.set(v, COLORS[i++ % COLORS.length]);
        return { color: colorOf.get(v), weight: 4 };
      },
      pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 5, weight: 1, color: "#333", fillColor: "#fff", fillOpacity: 1 }),
      onEachFeature: (f, l) => {
        const p = f.properties || {};
        if (p.eta) l.bindTooltip(`${p.kind || "stop"} ${p.pickup_id || p.site_id || ""} · ETA ${time(p.eta)}`);
      },
    }).addTo(map);
    const b = layer.getBounds();
    if (b.isValid()) map.fitBounds(b);
  }

  function render() {
    out.replaceChildren();
    if (!plan) return;
    out.dataset.status = plan.status || "proposed";
    const vehicleSel = h("select", { id: "replan-vehicle" }, (plan.routes || []).map((r) => h("option", { value: r.vehicle_id }, r.plate || r.vehicle_id)));
    out.append(
      h("p", { id: "plan-summary" }, `Plan ${plan.id}: ${(plan.routes || []).length} routes, ${countStops(plan)} pickups, ${(plan.unserved || []).length} unserved · status ${plan.status || "proposed"}`),
      h(
        "div",
        { class: "toolbar" },
        h("button", { type: "button", class: "primary", id: "plan-commit", disabled: plan.status === "committed", onclick: commit }, "Commit plan"),
        h("label", {}, "Vehicle broke down", vehicleSel),
        h("button", { type: "button", id: "plan-replan", onclick: () => replan(vehicleSel.value) }, "Re-plan without it"),
      ),
    );
    if ((plan.changes || []).length) {
      out.append(h("h2", {}, "Changed stops"), table([{ label: "Pickup", get: (c) => c.pickup_id }, { label: "From", get: (c) => c.from_vehicle }, { label: "To", get: (c) => c.to_vehicle }], plan.changes));
    }
    for (const r of plan.routes || []) {
      out.append(
        h("h2", {}, `${r.plate || r.vehicle_id} · ${Number(r.distance_km || 0).toFixed(1)} km`),
        table(
          [
            { label: "#", get: (s) => s.seq, num: true },
            { label: "Stop", get: (s) => s.kind },
            { label: "Pickup / site", get: (s) => s.pickup_id || s.site_id || "" },
            { label: "Planned ETA", get: (s) => time(s.eta) },
            { label: "Actual", get: (s) => (s.actual_arrival ? time(s.actual_arrival) : "—") },
            { label: "Load kg", get: (s) => s.load_kg, num: true },
          ],
          r.stops || [],
        ),
      );
    }
    if ((plan.unserved || []).length) {
      out.append(h("h2", {}, "Unserved"), table([{ label: "Pickup", get: (u) => u.pickup_id }, { label: "Reason", get: (u) => u.reason }], plan.unserved));
    }
    draw();
  }

  async function run(ev) {
    ev.preventDefault();
    msg.replaceChildren(h("p", {}, "Planning…"));
    try {
      plan = await api("/routes/plan", { method: "POST", body: { date: date.value, include_forecast: forecast.checked } });
      msg.replaceChildren();
      render();
    } catch (e) {
      msg.replaceChildren(problemBox(e));
    }
  }

  async function commit() {
    try {
      const res = await api(`/routes/${encodeURIComponent(plan.id)}/commit`, { method: "POST", body: {} });
      plan = { ...plan, ...res, status: "committed" };
      msg.replaceChildren(h("p", { class: "ok", id: "commit-ok" }, `Plan committed: ${countStops(plan)} pickups planned.`));
      render();
    } catch (e) {
      msg.replaceChildren(problemBox(e));
    }
  }

  async function replan(vehicle) {
    try {
      plan = await api("/routes/replan", { method: "POST", body: { plan_id: plan.id, remove_vehicles: [vehicle] } });
      msg.replaceChildren(h("p", { class: "ok" }, `Re-planned without ${vehicle}.`));
      render();
    } catch (e) {
      msg.replaceChildren(problemBox(e));
    }
  }

  root.append(
    h("h1", {}, "Plan"),
    h(
      "form",
      { class: "toolbar", onsubmit: run },
      h("label", {}, "Date", date),
      h("label", {}, "Forecast candidates", forecast),
      h("button", { type: "submit", class: "primary", id: "plan-run" }, "Plan routes"),
    ),
    msg,
    h("div", { class: "grid2" }, mapEl, out),
  );
  return () => {
    if (map) map.remove();
  };
}

function countStops(plan) {
  return (plan.routes || []).reduce((n, r) => n + (r.stops || []).filter((s) => s.kind === "pickup").length, 0);
}
