// The explorer's entry point: a hash router over the pages, the search box and the chain line.
// Every page is a function (context, ...route parts) -> DOM nodes; a page left before its data
// arrived is discarded (`isStale`), and what it started (websocket, timers) is stopped.

import { getJson } from "./api.js";
import { h } from "./format.js";
import { viewBlock, viewHome, viewTx } from "./views-chain.js";
import {
  viewAccount, viewAccounts, viewInstrument, viewInstruments, viewParticipant, viewParticipants,
} from "./views-ledger.js";

const ROUTES = [
  [/^$/, viewHome],
  [/^block\/(\d{1,18}|latest)$/, viewBlock],
  [/^tx\/((?:0x)?[0-9a-fA-F]{64})$/, (context, hash) => viewTx(context, hash.replace(/^0x/, ""))],
  [/^accounts$/, viewAccounts],
  [/^account\/([^/]+)\/([^/]+)$/, viewAccount],
  [/^instruments$/, viewInstruments],
  [/^instrument\/([^/]+)$/, viewInstrument],
  [/^participants$/, viewParticipants],
  [/^participant\/([^/]+)$/, viewParticipant],
];

/** Where a search goes: a tx hash, a block height, an account, an instrument or a participant. */
export function routeForSearch(text) {
  const query = text.trim();
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(query)) return `#/tx/${query.replace(/^0x/, "").toLowerCase()}`;
  if (/^\d{1,18}$/.test(query)) return `#/block/${query}`;
  const parts = query.split("/");
  if (parts.length === 2 && parts[0] && parts[1]) {
    return `#/account/${encodeURIComponent(parts[0])}/${encodeURIComponent(parts[1])}`;
  }
  if (/^[^\s/]+:[^\s/]+$/.test(query)) return `#/instrument/${encodeURIComponent(query)}`;
  if (/^[^\s/]+$/.test(query)) return `#/participant/${encodeURIComponent(query)}`;
  return null;
}

let current = null;

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function setChainLine(status) {
  const line = document.getElementById("chain");
  line.replaceChildren(
    h("span", {}, "chain ", h("strong", {}, status.chain_id)),
    h("span", {}, "node ", h("strong", {}, status.moniker)),
    h("span", {}, "height ", h("strong", { id: "chain-height" }, String(status.height))),
    h("span", {}, "mempool ", h("strong", {}, String(status.mempool_size))),
    ...(status.catching_up ? [h("span", { class: "badge pending" }, "catching up")] : []));
}

function errorBox(error) {
  const title = error.status === 404 ? "Not found" : "Could not load this page";
  return h("section", { class: "card error", id: "error" },
    h("h2", {}, title), h("p", {}, error.message || String(error)));
}

function makeContext(token) {
  const leaving = [];
  return {
    isStale: () => current !== token,
    onLeave: (stop) => leaving.push(stop),
    onHeight: (height) => {
      const cell = document.getElementById("chain-height");
      if (cell) cell.textContent = String(height);
    },
    rerender: () => render(),
    leave: () => leaving.splice(0).forEach((stop) => stop()),
  };
}

async function render() {
  if (current) current.context.leave();
  const token = {};
  token.context = makeContext(token);
  current = token;
  const view = document.getElementById("view");
  const path = safeDecode(location.hash.replace(/^#\/?/, ""));
  const match = ROUTES.map(([pattern, page]) => [path.match(pattern), page]).find(([m]) => m);
  if (!view.hasChildNodes() || !match) view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let content;
  try {
    if (!match) throw Object.assign(new Error(`no page ${location.hash}`), { status: 404 });
    content = await match[1](token.context, ...match[0].slice(1));
  } catch (error) {
    content = errorBox(error);
  }
  if (current !== token) return;
  view.replaceChildren(...[content].flat().filter(Boolean));
  view.setAttribute("data-route", path.split("/")[0] || "home");
  getJson("/status").then(setChainLine).catch(() => {});
}

function onSearch(event) {
  event.preventDefault();
  const input = document.getElementById("search-input");
  const target = routeForSearch(input.value);
  if (target === null) {
    document.getElementById("view").replaceChildren(errorBox(new Error(
      "Search takes a transaction hash (64 hex digits), a block height or an account id (BANK/name).")));
    return;
  }
  if (location.hash === target) render();
  else location.hash = target;
}

window.addEventListener("hashchange", render);
document.getElementById("search").addEventListener("submit", onSearch);
render();
