// Reports: download the compliance exports and customer service reports.
// Customers see only their own service reports; the API enforces it.
import { api } from "./api.js";
import { h, isoDate, problemBox } from "./ui.js";

const EXPORTS = [
  { kind: "period", label: "Period report (tonnage by EWC and R/D code)", formats: ["pdf", "xlsx", "csv", "json"] },
  { kind: "transfer-notes", label: "Waste transfer notes", formats: ["pdf", "csv", "json"] },
  { kind: "receipts", label: "Digital waste tracking receipts", formats: ["json"] },
  { kind: "emissions", label: "Fleet emissions (ISO 14083)", formats: ["pdf", "xlsx", "csv", "json"] },
];

export async function mount(root, { me }) {
  const now = new Date();
  const from = h("input", { type: "date", id: "report-from", value: isoDate(new Date(now.getFullYear(), now.getMonth() - 1, 1)) });
  const to = h("input", { type: "date", id: "report-to", value: isoDate(new Date(now.getFullYear(), now.getMonth(), 1)) });
  const msg = h("div", { id: "report-msg" });

  async function download(path, name) {
    msg.replaceChildren();
    try {
      const res = await api(path, { raw: true, headers: { Accept: "*/*" } });
      const blob = await res.blob();
      const a = h("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(a);
      a.click();
      a.remove();
      msg.replaceChildren(h("p", { class: "ok" }, `Downloaded ${name} (${blob.size} bytes).`));
    } catch (e) {
      msg.replaceChildren(problemBox(e));
    }
  }

  const range = () => `from=${from.value}T00:00:00Z&to=${to.value}T00:00:00Z`;
  const rows = [];
  if (me.role !== "customer") {
    for (const x of EXPORTS) {
      rows.push(
        h(
          "tr",
          {},
          h("td", {}, x.label),
          h("td", {}, x.formats.map((f) => h("button", { type: "button", "data-export": `${x.kind}.${f}`, onclick: () => download(`/exports/${x.kind}?${range()}&format=${f}`, `${x.kind}-${from.value}.${f}`) }, f.toUpperCase()))),
        ),
      );
    }
  }
  const period = h("select", { id: "service-period" }, ["month", "quarter", "year"].map((p) => h("option", { value: p }, p)));
  const customer = h("input", { id: "service-customer", value: me.customer_id || "", disabled: me.role === "customer", placeholder: "customer id" });
  rows.push(
    h(
      "tr",
      {},
      h("td", {}, "Customer service report ", period, " ", customer),
      h(
        "td",
        {},
        ["pdf", "csv", "json"].map((f) =>
          h("button", { type: "button", "data-export": `service.${f}`, onclick: () => download(`/reports/service?customer=${encodeURIComponent(customer.value)}&period=${period.value}&at=${from.value}&format=${f}`, `service-${customer.value}-${from.value}.${f}`) }, f.toUpperCase()),
        ),
      ),
    ),
  );
  root.append(
    h("h1", {}, "Reports"),
    h("div", { class: "toolbar" }, h("label", {}, "From", from), h("label", {}, "To", to)),
    msg,
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Report"), h("th", {}, "Download"))), h("tbody", {}, rows)),
  );
  return null;
}
