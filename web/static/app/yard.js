// Yard: passages and tickets of the day, lots by stage, moving a lot to its
// next stage with weights (mass-balance refusals shown plainly), and the
// custody log's verification status.
import { api, listAll } from "./api.js";
import { h, isoDate, problemBox, table, time } from "./ui.js";

const STAGES = ["received", "sorted", "compacted", "shredded", "shipped", "disposed"];
const KIND_FOR = { sorted: "sort", compacted: "compact", shredded: "shred", disposed: "dispose" };
const NEXT = { received: ["sorted", "disposed"], sorted: ["compacted", "shredded", "disposed"], compacted: ["shredded", "disposed"], shredded: ["disposed"] };

export async function mount(root, { me }) {
  const canWrite = me.role === "admin" || me.role === "yard";
  const day = h("input", { type: "date", id: "yard-day", value: isoDate(new Date()) });
  const custody = h("p", { id: "custody-status" }, "Checking custody log…");
  const passages = h("div", { id: "yard-passages" });
  const tickets = h("div", { id: "yard-tickets" });
  const lots = h("div", { id: "yard-lots" });
  const move = h("div", { id: "yard-move" });
  const stageSel = h("select", { id: "lot-stage" }, h("option", { value: "" }, "all stages"), STAGES.map((s) => h("option", { value: s }, s)));

  async function loadDay() {
    const from = new Date(`${day.value}T00:00:00`);
    const q = `from=${from.toISOString()}&to=${new Date(from.getTime() + 86400e3).toISOString()}`;
    try {
      const ps = await listAll(`/yard/passages?${q}`);
      passages.replaceChildren(
        table(
          [
            { label: "Time", get: (p) => time(p.first_seen) },
            { label: "Tag", get: (p) => p.tag_ref || p.epc },
            { label: "Kind", get: (p) => p.tag_kind },
            { label: "Direction", get: (p) => p.direction },
            { label: "Reads", get: (p) => p.reads, num: true },
          ],
          ps,
          "No gate passages on this day.",
        ),
      );
    } catch (e) {
      passages.replaceChildren(problemBox(e));
    }
    try {
      const ts = await listAll(`/yard/tickets?${q}`);
      tickets.replaceChildren(
        table(
          [
            { label: "No.", get: (t) => t.number, num: true },
            { label: "Vehicle", get: (t) => t.vehicle },
            { label: "Gross kg", get: (t) => t.gross_kg, num: true },
            { label: "Tare kg", get: (t) => t.tare_kg, num: true },
            { label: "Net kg", get: (t) => t.net_kg, num: true },
            { label: "Status", get: (t) => t.status },
          ],
          ts,
          "No weighbridge tickets on this day.",
        ),
      );
    } catch (e) {
      tickets.replaceChildren(problemBox(e));
    }
  }

  async function loadLots() {
    try {
      const q = stageSel.value ? `?stage=${stageSel.value}` : "";
      const items = await listAll(`/yard/lots${q}`);
      lots.replaceChildren(
        table(
          [
            { label: "Lot", get: (l) => l.id },
            { label: "Material", get: (l) => l.material },
            { label: "EWC", get: (l) => l.ewc },
            { label: "Stage", get: (l) => h("span", { class: "tag" }, l.stage) },
            { label: "kg", get: (l) => l.kg, num: true },
            { label: "Location", get: (l) => l.location },
            { label: "", get: (l) => (canWrite && NEXT[l.stage] && !l.consumed_by ? h("button", { type: "button", "data-lot": l.id, onclick: () => showMove(l) }, "Move…") : "") },
          ],
          items,
          stageSel.value ? `No lots ${stageSel.value}.` : "No lots in the yard yet.",
        ),
      );
    } catch (e) {
      lots.replaceChildren(problemBox(e));
    }
  }

  function showMove(lot) {
    const to = h("select", { id: "move-to" }, NEXT[lot.stage].map((s) => h("option", { value: s }, s)));
    const outKg = h("input", { id: "move-out-kg", type: "number", step: "0.1", min: "0", value: String(lot.kg) });
    const lossKg = h("input", { id: "move-loss-kg", type: "number", step: "0.1", min: "0", value: "0" });
    const rd = h("select", { id: "move-rd" }, ["R12", "D13", "R13", "D15", "D1", "D10"].map((c) => h("option", { value: c }, c)));
    const station = h("input", { id: "move-station", value: "sorting-line-1", size: 12 });
    const out = h("div", { id: "move-result" });
    const submit = async (ev) => {
      ev.preventDefault();
      out.replaceChildren();
      try {
        const res = await api("/yard/transitions", {
          method: "POST",
          body: {
            kind: KIND_FOR[to.value],
            inputs: [lot.id],
            outputs: to.value === "disposed" ? [] : [{ material: lot.material, ewc: lot.ewc, kg: Number(outKg.value) }],
            loss_kg: Number(lossKg.value),
            rd_code: rd.value,
            station: station.value,
            operator: me.token_id || me.role,
          },
        });
        out.replaceChildren(h("p", { class: "ok", id: "move-ok" }, `Lot ${lot.id} moved to ${to.value} (transition ${res.transition ? res.transition.id : res.id || ""}).`));
        await loadLots();
        await verify();
      } catch (e) {
        out.replaceChildren(problemBox(e));
      }
    };
    move.replaceChildren(
      h("h2", {}, `Move lot ${lot.id} (${lot.kg} kg ${lot.material})`),
      h(
        "form",
        { class: "toolbar", onsubmit: submit },
        h("label", {}, "Next stage", to),
        h("label", {}, "Weight out kg", outKg),
        h("label", {}, "Loss kg", lossKg),
        h("label", {}, "R/D code", rd),
        h("label", {}, "Station", station),
        h("button", { type: "submit", class: "primary", id: "move-submit" }, "Record transition"),
      ),
      out,
    );
    to.focus();
  }

  async function verify() {
    try {
      const v = await api("/custody/verify");
      custody.replaceChildren(
        v.ok ? h("span", { class: "ok" }, `Custody log verified: ${v.entries} entries, chain intact.`) : h("span", { class: "error" }, `Custody log broken at entry ${v.first_bad_seq}: ${v.reason}`),
      );
    } catch (e) {
      custody.replaceChildren(problemBox(e));
    }
  }

  day.addEventListener("change", loadDay);
  stageSel.addEventListener("change", loadLots);
  root.append(
    h("h1", {}, "Yard"),
    custody,
    h("div", { class: "toolbar" }, h("label", {}, "Day", day)),
    h("div", { class: "grid2" }, h("section", { class: "panel" }, h("h2", {}, "Gate passages"), passages), h("section", { class: "panel" }, h("h2", {}, "Weighbridge tickets"), tickets)),
    h("section", { class: "panel" }, h("h2", {}, "Lots"), h("div", { class: "toolbar" }, h("label", {}, "Stage", stageSel)), lots, move),
  );
  await Promise.all([loadDay(), loadLots(), verify()]);
  return null;
}
