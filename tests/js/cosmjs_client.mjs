// Drives a DepoChain node with the unmodified @cosmjs/tendermint-rpc Comet38Client over its
// three transports (HttpClient, HttpBatchClient, WebsocketClient) and prints what it decoded
// as one JSON object on stdout. Any exception (a shape cosmjs rejects, a timeout) exits 1.
//
// usage: node cosmjs_client.mjs <rpc http url> <signed tx A, base64> <signed tx B, base64>
//   tx A goes through broadcastTxSync on the websocket (and is awaited as a Tx event),
//   tx B through broadcastTxCommit over HTTP.
import { createHash } from "node:crypto";

import {
  Comet38Client,
  HttpBatchClient,
  HttpClient,
  WebsocketClient,
} from "@cosmjs/tendermint-rpc";

const TIMEOUT_MS = 60_000;

const hex = (bytes) => Buffer.from(bytes).toString("hex").toUpperCase();
const sha256Hex = (bytes) => createHash("sha256").update(bytes).digest("hex").toUpperCase();

function firstEvent(stream) {
  return new Promise((resolve, reject) => {
    const subscription = stream.subscribe({
      next: (event) => {
        setTimeout(() => subscription.unsubscribe(), 0);
        resolve(event);
      },
      error: (error) => reject(error instanceof Error ? error : new Error(String(error))),
      complete: () => reject(new Error("stream completed before an event")),
    });
  });
}

async function httpChecks(url) {
  const client = await Comet38Client.create(new HttpClient(url));
  const status = await client.status();
  const block = await client.block(2);
  const chain = await client.blockchain(1, 3);
  const commit = await client.commit(2);
  const validators = await client.validators({ height: 2 });
  client.disconnect();
  return {
    status: {
      version: status.nodeInfo.version,
      network: status.nodeInfo.network,
      latestBlockHeight: status.syncInfo.latestBlockHeight,
      validatorAddress: hex(status.validatorInfo.address),
    },
    block: {
      height: block.block.header.height,
      hash: hex(block.blockId.hash),
      lastCommitSignatures: block.block.lastCommit ? block.block.lastCommit.signatures.length : 0,
    },
    blockchain: chain.blockMetas.map((meta) => meta.header.height),
    commit: {
      height: commit.commit.height,
      canonical: commit.canonical,
      signed: commit.commit.signatures.filter((s) => s.signature !== undefined).length,
      blockHash: hex(commit.commit.blockId.hash),
    },
    validators: {
      total: validators.total,
      powers: validators.validators.map((v) => v.votingPower.toString()),
      algorithms: validators.validators.map((v) => v.pubkey.algorithm),
    },
  };
}

async function batchChecks(url) {
  const client = await Comet38Client.create(
    new HttpBatchClient(url, { batchSizeLimit: 10, dispatchInterval: 10 }),
  );
  const [status, block, validators] = await Promise.all([
    client.status(),
    client.block(1),
    client.validators({ height: 1, page: 1, per_page: 2 }),
  ]);
  client.disconnect();
  return {
    network: status.nodeInfo.network,
    height: block.block.header.height,
    validatorsCount: validators.count,
    validatorsTotal: validators.total,
  };
}

async function websocketChecks(url, txA) {
  const client = await Comet38Client.create(new WebsocketClient(url.replace(/^http/, "ws")));
  const raw = Buffer.from(txA, "base64");
  const hash = sha256Hex(raw);
  const newBlock = firstEvent(client.subscribeNewBlock());
  const txEvent = firstEvent(client.subscribeTx(`tx.hash='${hash}'`));
  const block = await newBlock;
  const sync = await client.broadcastTxSync({ tx: raw });
  const event = await txEvent;
  const status = await client.status();
  client.disconnect();
  return {
    newBlockHeight: block.header.height,
    newBlockTxs: block.txs.length,
    broadcastTxSync: { code: sync.code, hash: hex(sync.hash) },
    txEvent: {
      hash: hex(event.hash),
      height: event.height,
      code: event.result.code,
      eventTypes: event.result.events.map((e) => e.type),
    },
    statusOverWebsocket: status.syncInfo.latestBlockHeight,
    expectedHash: hash,
  };
}

async function commitAndSearch(url, txB) {
  const client = await Comet38Client.create(new HttpClient(url));
  const raw = Buffer.from(txB, "base64");
  const committed = await client.broadcastTxCommit({ tx: raw });
  const found = await client.tx({ hash: committed.hash, prove: true });
  const byHeight = await client.txSearch({ query: `tx.height=${committed.height}` });
  const byHash = await client.txSearch({ query: `tx.hash='${hex(committed.hash)}'` });
  client.disconnect();
  return {
    broadcastTxCommit: {
      height: committed.height,
      hash: hex(committed.hash),
      checkTxCode: committed.checkTx.code,
      txResultCode: committed.txResult ? committed.txResult.code : null,
    },
    tx: {
      height: found.height,
      index: found.index,
      hash: hex(found.hash),
      proofRoot: found.proof ? hex(found.proof.rootHash) : null,
      proofTotal: found.proof ? found.proof.proof.total : null,
      txMatches: Buffer.from(found.tx).equals(raw),
    },
    txSearch: {
      byHeightTotal: byHeight.totalCount,
      byHeightHashes: byHeight.txs.map((t) => hex(t.hash)),
      byHashTotal: byHash.totalCount,
    },
  };
}

async function main() {
  const [url, txA, txB] = process.argv.slice(2);
  if (!url || !txA || !txB) {
    throw new Error("usage: cosmjs_client.mjs <rpc url> <tx A base64> <tx B base64>");
  }
  const output = {
    http: await httpChecks(url),
    batch: await batchChecks(url),
    websocket: await websocketChecks(url, txA),
    commit: await commitAndSearch(url, txB),
  };
  process.stdout.write(JSON.stringify(output) + "\n");
}

const timer = setTimeout(() => {
  process.stderr.write(`timed out after ${TIMEOUT_MS} ms\n`);
  process.exit(1);
}, TIMEOUT_MS);

main().then(
  () => {
    clearTimeout(timer);
    process.exit(0);
  },
  (error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  },
);
