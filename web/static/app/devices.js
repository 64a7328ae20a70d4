// Devices: health, offline and low-battery lists, last seen.
import { listAll } from "./api.js";
import { h, problemBox, table, time } from "./ui.js";

export async function mount(root) {
  const filter = h("select", { id: "device-filter" }, h("option", { value: "" }, "all devices"), h("option", { value: "offline" }, "offline"), h("option", { value: "low_battery" }, "low battery"));
  const list = h("div", { id: "device-list" });
  async function load() {
    list.replaceChildren(h("p", {}, "Loading…"));
    try {
      const q = filter.value ? `?state=${filter.value}` : "";
      const items = await listAll(`/devices${q}`);
      list.replaceChildren(
        h("p", {}, `${items.length} devices`),
        table(
          [
            { label: "Device", get: (d) => d.id },
            { label: "Kind", get: (d) => d.kind },
            { label: "Attached to", get: (d) => (d.attached_id ? `${d.attached_kind} ${d.attached_id}` : "") },
            { label: "State", get: (d) => d.state },
            { label: "Online", get: (d) => (health(d).offline ? h("span", { class: "error" }, "offline") : h("span", { class: "ok" }, "online")) },
            { label: "Battery V", get: (d) => health(d).battery_v, num: true },
            { label: "Firmware", get: (d) => health(d).firmware || d.firmware },
            { label: "Last seen", get: (d) => time(health(d).last_seen || d.last_seen) },
          ],
          items,
          filter.value ? `No ${filter.value.replace("_", " ")} devices.` : "No devices registered yet.",
        ),
      );
    } catch (e) {
      list.replaceChildren(problemBox(e));
    }
  }
  filter.addEventListener("change", load);
  root.append(h("h1", {}, "Devices"), h("div", { class: "toolbar" }, h("label", {}, "Show", filter)), list);
  await load();
  return null;
}

function health(d) {
  return d.health || d;
}
