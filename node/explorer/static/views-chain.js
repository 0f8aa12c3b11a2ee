// The chain's pages: latest blocks (live over the websocket), one block, one transaction.

import { getInstruments, getJson } from "./api.js";
import { followNewBlocks } from "./live.js";
import {
  badge, facts, formatTime, h, linkBlock, linkParticipant, linkSubmitter, linkTx, section,
  shortHex, table, toJsonText,
} from "./format.js";
import { codeBadge, eventsTable, fieldList } from "./records.js";
import { canVerify, verifyProof } from "./verify.js";

const LATEST_BLOCKS = 20;
const BLOCK_TXS_SHOWN = 50;
const PENDING_POLL_MS = 2000;

// -- latest blocks ------------------------------------------------------------------------------

function blockRows(blocks, validatorNames) {
  return blocks.map((block) => h("tr", { "data-height": block.height },
    h("td", {}, linkBlock(block.height)),
    h("td", { class: "mono" }, shortHex(block.hash)),
    h("td", {}, formatTime(block.time_ms)),
    h("td", {}, validatorNames.get(block.proposer) || shortHex(block.proposer)),
    h("td", { class: "num" }, String(block.num_txs))));
}

async function getValidatorNames(height) {
  const query = height ? `?height=${height}` : "";
  const set = await getJson(`/validators${query}`);
  return new Map(set.validators.map((v) => [v.public_key, v.participant_id || shortHex(v.public_key)]));
}

export async function viewHome(context) {
  const [blocks, names] = await Promise.all([
    getJson(`/blocks?limit=${LATEST_BLOCKS}`), getValidatorNames(null),
  ]);
  const body = h("tbody", { id: "latest-blocks" }, blockRows(blocks.items, names));
  const state = h("span", { id: "live-state", class: "badge pending" }, "connecting");
  const list = h("table", { class: "list" },
    h("thead", {}, h("tr", {}, ["height", "hash", "time", "proposer", "txs"].map((t) => h("th", {}, t)))),
    body);
  let refreshing = false;
  let again = false;
  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      do {
        again = false;
        const latest = await getJson(`/blocks?limit=${LATEST_BLOCKS}`);
        body.replaceChildren(...blockRows(latest.items, names));
        context.onHeight(latest.items.length ? latest.items[0].height : 0);
      } while (again && !context.isStale());
    } catch {
      // the next block's event tries again
    } finally {
      refreshing = false;
    }
  }
  context.onLeave(followNewBlocks(() => { if (!context.isStale()) refresh(); }, (s) => {
    state.textContent = s;
    state.className = `badge ${s === "live" ? "committed" : "pending"}`;
  }));
  return section(["Latest blocks ", state], list);
}

// -- one block ----------------------------------------------------------------------------------

function signersTable(certificate, validatorSet) {
  if (!certificate) return h("p", { class: "muted" }, "This node keeps no certificate for the block.");
  const rows = [];
  let signedPower = 0;
  for (const signature of certificate.signatures) {
    const validator = validatorSet.validators[signature.validator_index];
    const power = validator ? Number(validator.power) : 0;
    signedPower += power;
    rows.push(h("tr", { "data-signer": validator ? validator.participant_id || "" : "" },
      h("td", { class: "num" }, String(signature.validator_index)),
      h("td", {}, validator ? linkParticipant(validator.participant_id) : "unknown"),
      h("td", { class: "mono" }, validator ? shortHex(validator.public_key, 12) : "–"),
      h("td", { class: "num" }, String(power)),
      h("td", { class: "mono" }, shortHex(signature.signature, 12))));
  }
  const total = Number(validatorSet.total_power);
  const quorum = signedPower * 3 > total * 2;
  return [
    h("p", { "data-field": "signed-power" },
      `Signed by ${certificate.signatures.length} of ${validatorSet.validators.length} validators: `
      + `power ${signedPower} of ${total} (${((100 * signedPower) / total).toFixed(1)}%), `,
      quorum ? badge("more than 2/3", "committed") : badge("below 2/3", "rejected"),
      ` in round ${certificate.round}.`),
    table(["#", "validator", "public key", "power", "signature"], rows),
  ];
}

async function blockTxRows(hashes, instruments) {
  const shown = hashes.slice(0, BLOCK_TXS_SHOWN);
  const views = await Promise.all(shown.map((hash) => getJson(`/txs/${hash}`).catch(() => null)));
  return shown.map((hash, i) => {
    const view = views[i];
    const decoded = view && view.decoded;
    return h("tr", { "data-tx": hash },
      h("td", {}, String(i)),
      h("td", {}, linkTx(hash)),
      h("td", {}, decoded ? decoded.type : "–"),
      h("td", {}, decoded ? linkSubmitter(decoded.submitter) : "–"),
      h("td", {}, view && view.receipt ? codeBadge(view.receipt) : "–"),
      h("td", {}, view && view.receipt ? eventsTable(view.receipt.events, instruments) : "–"));
  });
}

export async function viewBlock(context, heightText) {
  const block = await getJson(`/blocks/${heightText}`);
  const [validatorSet, instruments] = await Promise.all([
    getJson(`/validators?height=${block.height}`), getInstruments(),
  ]);
  const names = new Map(validatorSet.validators.map((v) => [v.public_key, v.participant_id]));
  const header = block.header;
  const txRows = await blockTxRows(block.tx_hashes, instruments);
  const more = block.tx_hashes.length > BLOCK_TXS_SHOWN
    ? h("p", { class: "muted" }, `${block.tx_hashes.length - BLOCK_TXS_SHOWN} more not shown.`) : null;
  return [
    section(`Block ${block.height}`, facts([
      ["hash", h("span", { class: "mono" }, block.hash)],
      ["time", formatTime(header.time_ms)],
      ["proposer", names.get(header.proposer) ? linkParticipant(names.get(header.proposer))
        : h("span", { class: "mono" }, header.proposer)],
      ["parent", block.height > 1 ? linkBlock(block.height - 1) : "genesis"],
      ["next", linkBlock(block.height + 1)],
      ["txs root", h("span", { class: "mono" }, header.txs_root)],
      ["app hash (state before the block)", h("span", { class: "mono" }, header.app_hash)],
      ["validators hash", h("span", { class: "mono" }, header.validators_hash)],
    ])),
    section(`Transactions (${block.num_txs})`,
      txRows.length ? table(["#", "hash", "type", "submitter", "receipt", "events"], txRows)
        : h("p", { class: "muted" }, "An empty block."), more),
    section("Commit certificate", signersTable(block.certificate, validatorSet)),
  ];
}

// -- one transaction ----------------------------------------------------------------------------

async function getTxView(hash) {
  try {
    return await getJson(`/txs/${hash}?prove=true`);
  } catch (error) {
    if (error.status !== 404) throw error;
    return getJson(`/txs/${hash}`); // committed but the proof is gone, or unknown: say which
  }
}

function txSummary(view) {
  return facts([
    ["hash", h("span", { class: "mono", id: "tx-hash" }, view.hash)],
    ["status", badge(view.status), "status"],
    ["block", view.height ? linkBlock(view.height) : "not in a block", "height"],
    ["index in block", view.index === null ? "–" : String(view.index)],
  ]);
}

function receiptSection(view, instruments) {
  if (!view.receipt) {
    const why = view.rejection ? `${view.rejection.code_name}: ${view.rejection.log}` : "none yet";
    return section("Receipt", h("p", { "data-field": "no-receipt" }, why));
  }
  const receipt = view.receipt;
  return section("Receipt", h("div", { id: "receipt" },
    facts([
      ["code", codeBadge(receipt), "receipt-code"],
      ["log", receipt.log || "–"],
    ]),
    eventsTable(receipt.events, instruments)));
}

function validUntil(limit) {
  if (limit.kind === "time_ms") return formatTime(limit.value);
  return `${limit.kind.replaceAll("_", " ")} ${limit.value}`;
}

function txBodySection(decoded, instruments) {
  if (!decoded) return null;
  return section(`Transaction: ${decoded.type}`, facts([
    ["submitter", linkSubmitter(decoded.submitter)],
    ["nonce", String(decoded.nonce)],
    ["idempotency key", decoded.idempotency_key],
    ["valid until", validUntil(decoded.valid_until)],
    ["memo", decoded.memo || "–"],
    ["body", fieldList(decoded.body, instruments)],
    ["signed by", h("ul", { class: "mono plain" }, decoded.signers.map((k) => h("li", {}, k)))],
  ]));
}

function proofSection(view) {
  const proof = view.proof;
  if (!proof) return null;
  const merkle = proof.merkle_proof;
  return section("Finality proof", h("div", { id: "proof" },
    facts([
      ["block hash (sha256 of the header)", h("span", { class: "mono" }, proof.header.hash)],
      ["chain", proof.chain_id],
      ["txs root", h("span", { class: "mono" }, proof.header.txs_root)],
      ["Merkle path", `leaf ${merkle.index} of ${merkle.total}, ${merkle.aunts.length} sibling hashes`],
      ["validator set hash", h("span", { class: "mono" }, proof.validators.hash)],
    ]),
    signersTable(proof.certificate, proof.validators),
    verificationNote(view.hash, proof),
    h("details", {}, h("summary", {}, "proof data (JSON)"), h("pre", {}, toJsonText(proof)))));
}

function verificationNote(hash, proof) {
  const result = h("p", { id: "proof-check", "data-verified": "pending" }, "Verifying in your browser…");
  const offline = ["To check it against your own genesis file, verify the proof (",
    h("code", {}, `depochain query tx ${hash} --prove --json`), ") offline with the SDK: ",
    h("code", {}, "verify_finality_proof(proof, validator_set_from_genesis(path))"), "."];
  if (!canVerify()) {
    result.setAttribute("data-verified", "unavailable");
    result.replaceChildren("This browser offers no WebCrypto here (only over https or on localhost), "
      + "so the proof is not verified in the page. ", ...offline);
    return result;
  }
  Promise.all([verifyProof(proof), getJson("/validators?height=1").catch(() => null)])
    .then(([proven, genesis]) => {
      const origin = genesis && genesis.hash === proven.setHash
        ? "the genesis validator set as this node serves it" : "a validator set that is not the genesis one";
      result.setAttribute("data-verified", "true");
      result.replaceChildren(badge("verified in your browser", "committed"),
        ` The tx is at height ${proven.height} under the block's txs root, and validators holding `
        + `${proven.signedPower} of ${proven.totalPower} voting power signed the block `
        + `(Ed25519, WebCrypto), against ${origin} (hash `,
        h("span", { class: "mono" }, shortHex(proven.setHash, 16)),
        "). Trust it as far as you trust that set: compare its hash with your genesis file. ", ...offline);
    })
    .catch((error) => {
      result.setAttribute("data-verified", "false");
      result.replaceChildren(badge("proof does not verify", "rejected"), ` ${error.message}`);
    });
  return result;
}

export async function viewTx(context, hash) {
  const [view, instruments] = await Promise.all([getTxView(hash.toLowerCase()), getInstruments()]);
  if (view.status === "pending") {
    const timer = setTimeout(() => { if (!context.isStale()) context.rerender(); }, PENDING_POLL_MS);
    context.onLeave(() => clearTimeout(timer));
  }
  return [
    section("Transaction", txSummary(view)),
    receiptSection(view, instruments),
    txBodySection(view.decoded, instruments),
    proofSection(view),
  ];
}
