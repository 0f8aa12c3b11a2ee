// Rendering of the chain's records whose fields vary by type: receipt events and tx bodies.
// Amounts are shown in major units of the instrument the same record names.

import { formatMoney, h, linkAccount, linkInstrument, linkParticipant, table, toJsonText } from "./format.js";

const INSTRUMENT_FIELDS = ["instrument_id", "from_instrument", "settlement_asset", "to_instrument"];
const ACCOUNT_FIELDS = new Set(["account_id", "from_account", "to_account"]);
const PARTICIPANT_FIELDS = new Set(["participant_id", "issuer", "from_bank", "to_bank", "bank"]);

function instrumentOf(record) {
  for (const name of INSTRUMENT_FIELDS) {
    if (typeof record[name] === "string") return record[name];
  }
  return null;
}

export function fieldValue(name, value, record, instruments) {
  if (value === null || value === undefined) return "–";
  if (name === "amount" && instrumentOf(record)) {
    return h("span", { class: "amount" }, formatMoney(value, instrumentOf(record), instruments));
  }
  if (ACCOUNT_FIELDS.has(name)) return linkAccount(value);
  if (INSTRUMENT_FIELDS.includes(name)) return linkInstrument(value);
  if (PARTICIPANT_FIELDS.has(name)) return linkParticipant(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "object") return h("code", {}, toJsonText(value));
  return String(value);
}

/** "name: value" pairs of a flat record, without the keys in `skip`. */
export function fieldList(record, instruments, skip) {
  const names = Object.keys(record).filter((name) => !(skip || []).includes(name));
  return h("dl", { class: "fields" }, names.map((name) => [
    h("dt", {}, name.replaceAll("_", " ")),
    h("dd", { "data-name": name }, fieldValue(name, record[name], record, instruments)),
  ]));
}

export function eventsTable(events, instruments) {
  if (!events || events.length === 0) return h("p", { class: "muted" }, "No events.");
  const rows = events.map((event) => h("tr", { "data-event": event.type },
    h("td", {}, h("strong", {}, event.type)),
    h("td", {}, fieldList(event, instruments, ["type"]))));
  return table(["event", "fields"], rows, { class: "list events" });
}

export function codeBadge(receipt) {
  const ok = receipt.code === 0;
  return h("span", { class: `badge ${ok ? "committed" : "rejected"}`, "data-code": receipt.code },
    `${receipt.code} ${receipt.code_name}`);
}
