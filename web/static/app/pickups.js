// Pickups: requests by state with filters; create, cancel, mark missed.
import { api, listAll } from "./api.js";
import { h, problemBox, table, time } from "./ui.js";

const STATES = ["requested", "planned", "collected", "delivered", "cancelled", "missed"];

export async function mount(root, { me }) {
  const stateSel = h("select", { id: "pickup-state" }, h("option", { value: "" }, "all states"), STATES.map((s) => h("option", { value: s }, s)));
  const list = h("div", { id: "pickup-list" });
  const msg = h("div", { id: "pickup-msg" });
  const sites = await listAll("/sites").catch(() => []);
  const siteSel = h("select", { id: "new-site", required: true }, sites.map((s) => h("option", { value: s.id }, `${s.name || s.id}`)));
  const material = h("input", { id: "new-material", value: "paper", required: true, size: 10 });
  const kg = h("input", { id: "new-kg", type: "number", min: "0", step: "1", value: "200", size: 6 });
  const now = new Date();
  const from = h("input", { id: "new-from", type: "datetime-local", value: local(new Date(now.getTime() + 86400e3)) });
  const to = h("input", { id: "new-to", type: "datetime-local", value: local(new Date(now.getTime() + 86400e3 + 4 * 3600e3)) });

  async function load() {
    list.replaceChildren(h("p", {}, "Loading…"));
    try {
      const q = stateSel.value ? `?status=${stateSel.value}` : "";
      const items = await listAll(`/pickups${q}`);
      list.replaceChildren(
        table(
          [
            { label: "Pickup", get: (p) => p.id },
            { label: "Site", get: (p) => p.site_id },
            { label: "Material", get: (p) => p.material },
            { label: "Est. kg", get: (p) => p.estimated_kg, num: true },
            { label: "Window", get: (p) => `${time(p.window_from)} – ${time(p.window_to)}` },
            { label: "State", get: (p) => h("span", { class: `tag ${p.status}` }, p.status) },
            { label: "Actions", get: (p) => actions(p) },
          ],
          items,
          stateSel.value ? `No ${stateSel.value} pickups.` : "No pickup requests yet.",
        ),
      );
    } catch (e) {
      list.replaceChildren(problemBox(e));
    }
  }

  function actions(p) {
    const out = h("span");
    const canCancel = p.status === "requested" || p.status === "planned";
    if (canCancel) out.append(h("button", { type: "button", onclick: () => move(p, "cancelled") }, "Cancel"));
    if (p.status === "planned" && me.role !== "customer") out.append(" ", h("button", { type: "button", onclick: () => move(p, "missed") }, "Mark missed"));
    return out;
  }

  async function move(p, to) {
    msg.replaceChildren();
    try {
      await api(`/pickups/${encodeURIComponent(p.id)}/transitions`, { method: "POST", body: { to } });
      msg.replaceChildren(h("p", { class: "ok" }, `Pickup ${p.id} is now ${to}.`));
      await load();
    } catch (e) {
      msg.replaceChildren(problemBox(e));
    }
  }

  async function create(ev) {
    ev.preventDefault();
    msg.replaceChildren();
    const site = sites.find((s) => s.id === siteSel.value);
    try {
      const p = await api("/pickups", {
        method: "POST",
        body: {
          customer_id: (site && site.customer_id) || me.customer_id,
          site_id: siteSel.value,
          material: material.value,
          estimated_kg: Number(kg.value),
          window_from: new Date(from.value).toISOString(),
          window_to: new Date(to.value).toISOString(),
        },
      });
      msg.replaceChildren(h("p", { class: "ok" }, `Pickup ${p.id} requested.`));
      await load();
    } catch (e) {
      msg.replaceChildren(problemBox(e));
    }
  }

  stateSel.addEventListener("change", load);
  root.append(
    h("h1", {}, "Pickups"),
    h(
      "form",
      { class: "toolbar", id: "pickup-form", onsubmit: create },
      h("label", {}, "Site", siteSel),
      h("label", {}, "Material", material),
      h("label", {}, "Est. kg", kg),
      h("label", {}, "From", from),
      h("label", {}, "To", to),
      h("button", { type: "submit", class: "primary" }, "Request pickup"),
    ),
    h("div", { class: "toolbar" }, h("label", {}, "Show", stateSel)),
    msg,
    list,
  );
  await load();
  return null;
}

function local(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
