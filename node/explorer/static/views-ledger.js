// The ledger's pages: accounts with balances per instrument, instruments with supply and
// issuer, participants and the validator set with voting power.

import { getAllPages, getInstruments, getJson, pathPart } from "./api.js";
import {
  badge, facts, formatAmount, formatMoney, formatTime, h, linkAccount, linkInstrument,
  linkParticipant, section, shortHex, table,
} from "./format.js";

function incompleteNote(complete) {
  return complete ? null : h("p", { class: "muted" }, "Only the first pages are shown.");
}

function balanceRows(balances, instruments) {
  return balances.map((b) => h("tr", { "data-balance": b.instrument_id },
    h("td", {}, linkInstrument(b.instrument_id)),
    h("td", { class: "num", "data-name": "total" }, formatMoney(b.total, b.instrument_id, instruments)),
    h("td", { class: "num" }, formatMoney(b.frozen, b.instrument_id, instruments)),
    h("td", { class: "num" }, formatMoney(b.held, b.instrument_id, instruments)),
    h("td", { class: "num" }, formatMoney(b.free, b.instrument_id, instruments))));
}

export async function viewAccount(context, bank, name) {
  const [account, instruments] = await Promise.all([
    getJson(`/accounts/${pathPart(bank)}/${pathPart(name)}`), getInstruments(),
  ]);
  return [
    section(`Account ${account.account_id}`, facts([
      ["account", h("span", { id: "account-id" }, account.account_id)],
      ["bank", linkParticipant(account.bank)],
      ["status", badge(account.status, account.status === "active" ? "committed" : "pending")],
      ["frozen", account.frozen ? "yes" : "no"],
      ["nonce", String(account.nonce)],
      ["keys", `${account.threshold} of ${account.keys.length}`],
      ["KYC valid until", formatTime(account.kyc_expiry_ms)],
    ])),
    section("Balances", table(["instrument", "total", "frozen", "held", "free"],
      balanceRows(account.balances, instruments), { id: "balances" })),
  ];
}

export async function viewAccounts() {
  const [{ items, complete }, instruments] = await Promise.all([
    getAllPages("/accounts"), getInstruments(),
  ]);
  const rows = items.map((account) => h("tr", { "data-account": account.account_id },
    h("td", {}, linkAccount(account.account_id)),
    h("td", {}, linkParticipant(account.bank)),
    h("td", {}, account.status + (account.frozen ? ", frozen" : "")),
    h("td", {}, h("ul", { class: "plain" }, account.balances.map((b) => h("li", {
      "data-balance": b.instrument_id,
    }, h("span", { class: "amount" }, formatMoney(b.total, b.instrument_id, instruments)), " ",
    h("span", { class: "muted" }, b.instrument_id)))))));
  return section(`Accounts (${items.length})`,
    table(["account", "bank", "status", "balances (total)"], rows, { id: "accounts" }),
    incompleteNote(complete));
}

function instrumentFacts(instrument) {
  const amount = (minor) => `${formatAmount(minor, instrument.decimals)} ${instrument.currency}`;
  return facts([
    ["instrument", instrument.instrument_id],
    ["kind", instrument.kind.replaceAll("_", " ")],
    ["issuer", linkParticipant(instrument.issuer)],
    ["currency", instrument.currency],
    ["decimals", String(instrument.decimals)],
    ["settles in", linkInstrument(instrument.settlement_asset)],
    ["supply", amount(instrument.supply), "supply"],
  ]);
}

export async function viewInstrument(context, instrumentId) {
  const instrument = await getJson(`/instruments/${pathPart(instrumentId)}`);
  return section(`Instrument ${instrument.instrument_id}`, instrumentFacts(instrument));
}

export async function viewInstruments() {
  const { items, complete } = await getAllPages("/instruments");
  const rows = items.map((i) => h("tr", { "data-instrument": i.instrument_id },
    h("td", {}, linkInstrument(i.instrument_id)),
    h("td", {}, i.kind.replaceAll("_", " ")),
    h("td", {}, linkParticipant(i.issuer)),
    h("td", {}, i.currency),
    h("td", { class: "num" }, String(i.decimals)),
    h("td", {}, linkInstrument(i.settlement_asset)),
    h("td", { class: "num", "data-name": "supply" }, formatAmount(i.supply, i.decimals))));
  return section(`Instruments (${items.length})`,
    table(["instrument", "kind", "issuer", "currency", "decimals", "settles in", "supply"], rows),
    incompleteNote(complete));
}

function validatorsSection(set) {
  const total = Number(set.total_power);
  const rows = set.validators.map((v, index) => h("tr", { "data-validator": v.participant_id || "" },
    h("td", { class: "num" }, String(index)),
    h("td", {}, linkParticipant(v.participant_id)),
    h("td", { class: "mono" }, shortHex(v.public_key, 16)),
    h("td", { class: "num" }, String(v.power)),
    h("td", { class: "num" }, `${((100 * Number(v.power)) / total).toFixed(1)}%`)));
  return section(`Validators at height ${set.height}`,
    h("p", {}, `Total voting power ${set.total_power}; a block commits with more than 2/3 of it. `,
      "Set hash ", h("span", { class: "mono" }, shortHex(set.hash, 16)), "."),
    table(["#", "participant", "public key", "power", "share"], rows, { id: "validators" }));
}

export async function viewParticipants() {
  const [{ items, complete }, set] = await Promise.all([
    getAllPages("/participants"), getJson("/validators"),
  ]);
  const rows = items.map((p) => h("tr", { "data-participant": p.participant_id },
    h("td", {}, linkParticipant(p.participant_id)),
    h("td", {}, p.name),
    h("td", {}, p.roles.join(", ")),
    h("td", {}, p.status),
    h("td", { class: "num" }, p.validator_key ? String(p.validator_power) : "–")));
  return [
    validatorsSection(set),
    section(`Participants (${items.length})`,
      table(["participant", "name", "roles", "status", "validator power"], rows),
      incompleteNote(complete)),
  ];
}

export async function viewParticipant(context, participantId) {
  const p = await getJson(`/participants/${pathPart(participantId)}`);
  return section(`Participant ${p.participant_id}`, facts([
    ["name", p.name],
    ["roles", p.roles.join(", ")],
    ["status", p.status],
    ["keys", h("ul", { class: "mono plain" }, p.keys.map((k) => h("li", {}, k)))],
    ["signatures needed", String(p.threshold)],
    ["validator key", p.validator_key ? h("span", { class: "mono" }, p.validator_key) : "–"],
    ["validator power", p.validator_key ? String(p.validator_power) : "–"],
    ["LEI", p.lei || "–"],
    ["BIC", p.bic || "–"],
  ]));
}
