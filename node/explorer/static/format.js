// DOM building (text only: data from the chain never becomes markup) and number formatting.

export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Minor units (integer or BigInt) as major units: 100000077 with 2 decimals -> 1,000,000.77 */
export function formatAmount(minor, decimals) {
  const value = BigInt(minor);
  const negative = value < 0n;
  let digits = (negative ? -value : value).toString();
  const places = Number(decimals) || 0;
  let text = groupThousands(digits);
  if (places > 0) {
    digits = digits.padStart(places + 1, "0");
    text = groupThousands(digits.slice(0, -places)) + "." + digits.slice(-places);
  }
  return (negative ? "-" : "") + text;
}

/** An amount of an instrument in its major units and currency, e.g. "10.00 USD". */
export function formatMoney(minor, instrumentId, instruments) {
  const instrument = instruments && instruments.get(instrumentId);
  if (!instrument) return `${minor} minor units of ${instrumentId}`;
  return `${formatAmount(minor, instrument.decimals)} ${instrument.currency}`;
}

export function formatTime(ms) {
  if (ms === null || ms === undefined) return "–";
  return new Date(Number(ms)).toISOString().replace("T", " ").replace("Z", " UTC");
}

export function shortHex(hex, keep = 10) {
  if (typeof hex !== "string" || hex.length <= keep * 2) return hex;
  return `${hex.slice(0, keep)}…${hex.slice(-4)}`;
}

export function toJsonText(value) {
  return JSON.stringify(value, (key, item) => (typeof item === "bigint" ? item.toString() : item), 2);
}

export function linkBlock(height) {
  return h("a", { href: `#/block/${height}` }, String(height));
}

export function linkTx(hash, text) {
  return h("a", { href: `#/tx/${hash}`, class: "mono" }, text || shortHex(hash));
}

export function linkAccount(accountId) {
  const [bank, name] = String(accountId).split("/");
  if (name === undefined) return linkParticipant(accountId);
  return h("a", { href: `#/account/${encodeURIComponent(bank)}/${encodeURIComponent(name)}` },
    accountId);
}

export function linkParticipant(participantId) {
  if (participantId === null || participantId === undefined) return "–";
  return h("a", { href: `#/participant/${encodeURIComponent(participantId)}` }, participantId);
}

export function linkInstrument(instrumentId) {
  if (instrumentId === null || instrumentId === undefined) return "–";
  return h("a", { href: `#/instrument/${encodeURIComponent(instrumentId)}` }, instrumentId);
}

export function linkSubmitter(submitter) {
  return String(submitter).includes("/") ? linkAccount(submitter) : linkParticipant(submitter);
}

/** A two-column table of (label, value) rows; `field` names the row for scripts and tests. */
export function facts(rows) {
  return h("table", { class: "facts" },
    h("tbody", {}, rows.filter(Boolean).map(([label, value, field]) =>
      h("tr", { "data-field": field || null }, h("th", {}, label), h("td", {}, value)))));
}

export function table(headings, rows, attributes) {
  return h("table", { class: "list", ...(attributes || {}) },
    h("thead", {}, h("tr", {}, headings.map((heading) => h("th", {}, heading)))),
    h("tbody", {}, rows));
}

export function section(title, ...content) {
  return h("section", { class: "card" }, h("h2", {}, title), content);
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || text}` }, text);
}
