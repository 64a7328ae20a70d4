// Live map: vehicles moving from the live stream, bins coloured by fill and
// forecast, site fences, a vehicle's track for a chosen period, and alerts as
// they happen. Everything is drawn from GeoJSON, so the map stays useful when
// no tile server is configured or reachable.
import { api, ApiError, listAll, stream } from "./api.js";
import { banner, h, isoDate, problemBox, sparkline, time } from "./ui.js";

export function fillColor(pct) {
  if (pct === undefined || pct === null || Number.isNaN(pct)) return "#9aa3ad";
  if (pct >= 80) return "#d62728";
  if (pct >= 50) return "#e6a700";
  return "#2ca02c";
}

export async function mount(root, { me, config }) {
  const mapEl = h("div", { class: "map", id: "live-map", role: "region", "aria-label": "Map of vehicles, bins and sites" });
  const alerts = h("ul", { class: "alerts", id: "alerts", "aria-live": "polite" });
  const detail = h("div", { id: "detail" }, h("p", { class: "empty" }, "Select a vehicle or a bin."));
  const stats = h("p", { id: "map-stats" }, "Loading…");
  const due = h("ul", { class: "alerts", id: "bins-due" });
  root.append(
    h(
      "div",
      { class: "split" },
      mapEl,
      h(
        "aside",
        { class: "panel" },
        h("h2", {}, "Fleet"),
        stats,
        h("p", { class: "legend" }, "Bins:", h("span", { style: "background:#2ca02c" }), "< 50 %", h("span", { style: "background:#e6a700" }), "50–80 %", h("span", { style: "background:#d62728" }), "≥ 80 %"),
        detail,
        h("h2", {}, "Bins due in 48 h"),
        due,
        h("h2", {}, "Alerts"),
        alerts,
      ),
    ),
  );
  if (typeof L === "undefined") {
    mapEl.replaceChildren(h("div", { class: "empty" }, "The map library did not load."));
    return null;
  }
  const map = L.map(mapEl, { preferCanvas: true, zoomControl: true }).setView([51.05, 3.72], 12);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { maxZoom: 19, attribution: config.tile_attribution || "" }).addTo(map);
  }
  const renderer = L.canvas({ padding: 0.5 });
  const fences = L.layerGroup().addTo(map);
  const binsLayer = L.layerGroup().addTo(map);
  const vehiclesLayer = L.layerGroup().addTo(map);
  const trackLayer = L.layerGroup().addTo(map);
  const vehicles = new Map();
  let bounds = null;

  function extend(latlng) {
    bounds = bounds ? bounds.extend(latlng) : L.latLngBounds(latlng, latlng);
  }

  function placeVehicle(id, lat, lon, props) {
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return;
    let v = vehicles.get(id);
    if (!v) {
      const marker = L.circleMarker([lat, lon], { renderer, radius: 6, color: "#1d2430", weight: 2, fillColor: "#1f77b4", fillOpacity: 0.9 });
      marker.bindTooltip(props.plate || id);
      marker.on("click", () => showVehicle(id));
      marker.addTo(vehiclesLayer);
      v = { marker, props: {}, moves: 0 };
      vehicles.set(id, v);
    } else {
      v.marker.setLatLng([lat, lon]);
      v.moves++;
    }
    Object.assign(v.props, props, { lat, lon });
    mapEl.dataset.vehicleMoves = String((Number(mapEl.dataset.vehicleMoves) || 0) + (v.moves ? 1 : 0));
  }

  async function showVehicle(id) {
    const v = vehicles.get(id);
    const to = new Date();
    const from = new Date(to.getTime() - 2 * 3600e3);
    const fromIn = h("input", { type: "datetime-local", id: "track-from", value: localInput(from) });
    const toIn = h("input", { type: "datetime-local", id: "track-to", value: localInput(to) });
    const out = h("div");
    const vehicleId = v.props.vehicle || id;
    const load = async () => {
      trackLayer.clearLayers();
      out.replaceChildren();
      try {
        const q = `from=${new Date(fromIn.value).toISOString()}&to=${new Date(toIn.value).toISOString()}&format=geojson`;
        const gj = await api(`/vehicles/${encodeURIComponent(vehicleId)}/track?${q}`);
        const layer = L.geoJSON(gj, { style: { color: "#ff7f0e", weight: 4 } }).addTo(trackLayer);
        const n = countCoords(gj);
        out.append(h("p", { id: "track-info" }, n ? `${n} fixes` : "No fixes in that period."));
        if (n) map.fitBounds(layer.getBounds(), { maxZoom: 15 });
      } catch (e) {
        out.append(problemBox(e));
      }
    };
    detail.replaceChildren(
      h("h3", {}, `Vehicle ${v.props.plate || vehicleId}`),
      h("p", {}, `Last fix ${time(v.props.ts)}${v.props.speed_kmh !== undefined ? `, ${Math.round(v.props.speed_kmh)} km/h` : ""}`),
      h("div", { class: "toolbar" }, h("label", {}, "From", fromIn), h("label", {}, "To", toIn), h("button", { type: "button", onclick: load }, "Show track")),
      out,
    );
  }

  async function showBin(bin) {
    detail.replaceChildren(h("h3", {}, `Bin ${bin.id}`), h("p", {}, `${bin.material || ""} at ${bin.site_id || ""}`), h("p", {}, "Loading forecast…"));
    const body = [h("h3", {}, `Bin ${bin.id}`), h("p", {}, `${bin.material || "?"} · site ${bin.site_id || "?"} · fill ${bin.level_pct !== undefined ? Math.round(bin.level_pct) + " %" : "unknown"}`)];
    try {
      const f = await api(`/bins/${encodeURIComponent(bin.id)}/forecast`);
      const full = f.full_at || f.predicted_full_at || f.time_to_threshold;
      body.push(
        h(
          "div",
          { id: "bin-forecast" },
          h("p", {}, full ? `Forecast full at ${time(full)}` : "Not expected to fill in the horizon."),
          f.rate_pct_per_day !== undefined ? h("p", {}, `Filling ${Number(f.rate_pct_per_day).toFixed(1)} % per day`) : null,
          Array.isArray(f.history) && f.history.length ? sparkline(f.history.map((p) => p.level_pct)) : null,
        ),
      );
    } catch (e) {
      body.push(e instanceof ApiError && e.status === 404 ? h("p", { id: "bin-forecast" }, "No fill history for this bin yet.") : problemBox(e));
    }
    detail.replaceChildren(...body);
  }

  function addAlert(ev) {
    const li = h("li", {}, h("strong", {}, ev.kind || ev.type || "event"), " ", ev.vehicle || ev.device || "", ev.site ? ` @ ${ev.site}` : "", h("br"), h("small", {}, time(ev.ts || ev.time)));
    alerts.prepend(li);
    while (alerts.children.length > 50) alerts.lastChild.remove();
  }

  try {
    const [sites, bins, positions] = await Promise.all([
      listAll("/sites").catch(() => []),
      api("/bins.geojson").catch(() => ({ features: [] })),
      api("/fleet/positions").catch((e) => {
        if (e instanceof ApiError && e.status >= 500) banner("Live positions are unavailable right now.", true);
        return { features: [] };
      }),
    ]);
    for (const s of sites) {
      if (!s.geofence) continue;
      const gj = typeof s.geofence === "string" ? JSON.parse(s.geofence) : s.geofence;
      const radius = gj.properties && gj.properties.radius_m;
      const layer =
        gj.geometry && gj.geometry.type === "Point" && radius
          ? L.circle([gj.geometry.coordinates[1], gj.geometry.coordinates[0]], { radius, color: "#5d6675", weight: 1, fillOpacity: 0.05 })
          : L.geoJSON(gj, { style: { color: "#5d6675", weight: 1, fillOpacity: 0.05 } });
      layer.bindTooltip(s.name || s.id);
      layer.addTo(fences);
    }
    for (const f of bins.features || []) {
      const [lon, lat] = f.geometry.coordinates;
      const p = f.properties || {};
      const m = L.circleMarker([lat, lon], { renderer, radius: 4, weight: 1, color: "#333", fillColor: fillColor(p.level_pct), fillOpacity: 0.9 });
      m.on("click", () => showBin({ id: p.id || f.id, ...p }));
      m.addTo(binsLayer);
      extend([lat, lon]);
    }
    for (const f of positions.features || []) {
      const [lon, lat] = f.geometry.coordinates;
      const p = f.properties || {};
      placeVehicle(p.vehicle || p.device || f.id, lat, lon, p);
      extend([lat, lon]);
    }
    mapEl.dataset.bins = String((bins.features || []).length);
    mapEl.dataset.vehicles = String(vehicles.size);
    stats.textContent = `${vehicles.size} vehicles, ${(bins.features || []).length} bins, ${sites.length} sites`;
    if (bounds) map.fitBounds(bounds, { maxZoom: 14 });
    mapEl.dataset.ready = "1";
  } catch (e) {
    stats.replaceChildren(problemBox(e));
  }

  api("/bins/forecast?horizon=48h")
    .then((res) => {
      const items = Array.isArray(res) ? res : res.items || [];
      due.replaceChildren(
        ...(items.length
          ? items.slice(0, 30).map((b) => h("li", {}, h("button", { type: "button", class: "link", "data-bin": b.bin_id || b.id, onclick: () => showBin({ id: b.bin_id || b.id, ...b }) }, `${b.bin_id || b.id}`), ` full ${time(b.full_at)}`))
          : [h("li", {}, "No bin is forecast to fill in the next 48 hours.")]),
      );
    })
    .catch((e) => due.replaceChildren(h("li", {}, problemBox(e))));

  const conn = document.getElementById("conn");
  // Counters for the benchmark and for a glance in the page's dataset.
  let handled = 0;
  let busyMs = 0;
  const stop = stream(
    "/stream?types=position,event",
    (type, data) => {
      const t0 = performance.now();
      if (type === "position" && data && data.type === "Feature") {
        const p = data.properties || {};
        const [lon, lat] = data.geometry.coordinates;
        placeVehicle(p.vehicle || p.device || data.id, lat, lon, p);
        mapEl.dataset.vehicles = String(vehicles.size);
      } else if (type === "position") {
        placeVehicle(data.vehicle || data.device, Number(data.lat), Number(data.lon), data);
        mapEl.dataset.vehicles = String(vehicles.size);
      } else {
        addAlert(data);
      }
      handled++;
      busyMs += performance.now() - t0;
      if ((handled & 63) === 0) {
        mapEl.dataset.events = String(handled);
        mapEl.dataset.busyMs = busyMs.toFixed(0);
      }
    },
    (s) => {
      conn.textContent = s === "live" ? "live" : "offline";
      conn.className = `conn ${s === "live" ? "live" : ""}`;
    },
  );
  const onShowBin = (ev) => showBin({ id: ev.detail });
  document.addEventListener("revloop:show-bin", onShowBin);
  const ro = new ResizeObserver(() => map.invalidateSize());
  ro.observe(mapEl);
  return () => {
    stop();
    document.removeEventListener("revloop:show-bin", onShowBin);
    ro.disconnect();
    map.remove();
    conn.textContent = "offline";
    conn.className = "conn";
  };
}

function countCoords(gj) {
  const feats = gj.type === "FeatureCollection" ? gj.features : [gj];
  let n = 0;
  for (const f of feats) {
    const g = f.geometry || f;
    if (g && g.type === "LineString") n += g.coordinates.length;
    if (g && g.type === "Point") n += 1;
  }
  return n;
}

function localInput(d) {
  return `${isoDate(d)}T${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}
