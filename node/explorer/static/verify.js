// Verifies a finality proof in the browser, the same checks as the SDK's verify_finality_proof:
// the tx bytes hash to the tx hash, the Merkle path puts them under the header's txs root, the
// validator set hashes to the header's validators hash, and validators holding more than 2/3 of
// its power signed a precommit for sha256(header) (Ed25519 through WebCrypto, no library).
// The encodings are consensus/codec.py's canonical msgpack; only the subset the proof uses.

const SIGN_DOMAIN = new TextEncoder().encode("depochain/sign/v1");
const PURPOSE_VOTE = 3;
const VOTE_PRECOMMIT = 2;

export class ProofError extends Error {}

function check(condition, message) {
  if (!condition) throw new ProofError(message);
}

// -- canonical msgpack (encode: the smallest form, as msgpack-python packs) ----------------------

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

function header(tag, length, bytes) {
  const out = new Uint8Array(1 + bytes);
  out[0] = tag;
  let rest = BigInt(length);
  for (let i = bytes; i >= 1; i -= 1) { out[i] = Number(rest & 0xffn); rest >>= 8n; }
  return out;
}

function encodeLength(length, tags) {
  if (length < 256 && tags[0] !== null) return header(tags[0], length, 1);
  if (length < 65536) return header(tags[1], length, 2);
  return header(tags[2], length, 4);
}

export function encode(value) {
  if (value === null) return Uint8Array.of(0xc0);
  if (value instanceof Uint8Array) return concat([encodeLength(value.length, [0xc4, 0xc5, 0xc6]), value]);
  if (typeof value === "string") {
    const utf8 = new TextEncoder().encode(value);
    const head = utf8.length < 32 ? Uint8Array.of(0xa0 | utf8.length) : encodeLength(utf8.length, [0xd9, 0xda, 0xdb]);
    return concat([head, utf8]);
  }
  if (typeof value === "number" || typeof value === "bigint") {
    const n = BigInt(value);
    check(n >= 0n, "negative integers are not used by proofs");
    if (n < 128n) return Uint8Array.of(Number(n));
    if (n < 256n) return header(0xcc, n, 1);
    if (n < 65536n) return header(0xcd, n, 2);
    if (n < 4294967296n) return header(0xce, n, 4);
    return header(0xcf, n, 8);
  }
  if (Array.isArray(value)) {
    const head = value.length < 16 ? Uint8Array.of(0x90 | value.length) : encodeLength(value.length, [null, 0xdc, 0xdd]);
    return concat([head, ...value.map(encode)]);
  }
  throw new ProofError(`cannot encode ${typeof value}`);
}

export function decode(bytes) {
  let at = 0;
  const need = (n) => { check(at + n <= bytes.length, "truncated encoding"); const s = bytes.subarray(at, at + n); at += n; return s; };
  const uint = (n) => need(n).reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
  const int = (n) => { const v = uint(n); return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v; };
  const text = (n) => new TextDecoder("utf-8", { fatal: true }).decode(need(n));
  const list = (n, depth) => Array.from({ length: n }, () => item(depth + 1));
  function item(depth) {
    check(depth <= 32, "nesting too deep");
    const tag = need(1)[0];
    if (tag < 0x80) return tag;
    if (tag >= 0x90 && tag <= 0x9f) return list(tag & 0x0f, depth);
    if (tag >= 0xa0 && tag <= 0xbf) return text(tag & 0x1f);
    switch (tag) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return need(int(1)).slice();
      case 0xc5: return need(int(2)).slice();
      case 0xc6: return need(int(4)).slice();
      case 0xcc: return int(1);
      case 0xcd: return int(2);
      case 0xce: return int(4);
      case 0xcf: return int(8);
      case 0xd9: return text(int(1));
      case 0xda: return text(int(2));
      case 0xdb: return text(int(4));
      case 0xdc: return list(int(2), depth);
      case 0xdd: return list(int(4), depth);
      default: throw new ProofError(`unexpected encoding byte 0x${tag.toString(16)}`);
    }
  }
  const value = item(0);
  check(at === bytes.length, "trailing bytes after the encoding");
  return value;
}

// -- bytes and hashes -------------------------------------------------------------------------

export function fromBase64(text) {
  check(typeof text === "string", "expected base64 text");
  let binary;
  try { binary = atob(text); } catch { throw new ProofError("bad base64"); }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function fromHex(text) {
  check(typeof text === "string" && /^([0-9a-f]{2})*$/i.test(text), "bad hex");
  return Uint8Array.from(text.match(/../g) || [], (pair) => parseInt(pair, 16));
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function equal(a, b) {
  return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// RFC 6962 §2.1.1 audit path, the recursion of consensus/crypto.py's _root_from_path.
async function rootFromPath(leafHash, index, total, aunts) {
  if (total === 1) return aunts.length === 0 ? leafHash : null;
  if (aunts.length === 0) return null;
  let split = 1; // the largest power of two strictly below total
  while (split * 2 < total) split *= 2;
  const last = aunts[aunts.length - 1];
  const rest = aunts.slice(0, -1);
  if (index < split) {
    const left = await rootFromPath(leafHash, index, split, rest);
    return left && sha256(concat([Uint8Array.of(1), left, last]));
  }
  const right = await rootFromPath(leafHash, index - split, total - split, rest);
  return right && sha256(concat([Uint8Array.of(1), last, right]));
}

async function verifySignature(publicKey, message, signature) {
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

// -- the proof --------------------------------------------------------------------------------

/** Is verification possible here? WebCrypto exists only in secure contexts (https, localhost). */
export function canVerify() {
  return Boolean(globalThis.crypto && crypto.subtle);
}

/**
 * Check `proof` (as GET /api/v1/txs/{hash}/proof serves it); throws ProofError if any part fails.
 * Returns what was proven: height, block hash, signed and total power, the validator set hash.
 */
export async function verifyProof(proof) {
  const raw = fromBase64(proof.tx);
  const encodedHeader = fromBase64(proof.header.encoded);
  const fields = decode(encodedHeader);
  // chain_id, height, time, proposer, parent, last_commit, txs_root, app_hash,
  // last_results_hash, validators_hash, evidence_hash (consensus/blocks.py Header.to_wire)
  check(Array.isArray(fields) && fields.length === 11, "not a header");
  const [chainId, height, , , , , txsRoot, , , validatorsHash] = fields;
  check(equal(await sha256(raw), fromHex(proof.hash)), "the tx bytes do not hash to the claimed hash");
  check(proof.height === height, "the proof's height is not the header's");
  const merkle = proof.merkle_proof;
  check(proof.index === merkle.index && merkle.index >= 0 && merkle.index < merkle.total
    && merkle.aunts.length <= 64, "the proof's index is not the Merkle index");
  const leaf = await sha256(concat([Uint8Array.of(0), raw]));
  const root = await rootFromPath(leaf, merkle.index, merkle.total, merkle.aunts.map(fromHex));
  check(root !== null && equal(root, txsRoot), "the Merkle proof does not place the tx under the header's txs_root");
  const validators = proof.validators.validators.map((v) => [fromHex(v.public_key), Number(v.power)]);
  const setHash = await sha256(encode(validators));
  check(equal(setHash, validatorsHash), "the validator set is not the one the header names");
  const blockHash = await sha256(encodedHeader);
  const signed = await verifyCertificate(fromBase64(proof.certificate.encoded), chainId, height, blockHash, validators);
  const total = validators.reduce((n, [, power]) => n + power, 0);
  return { height, blockHash: toHex(blockHash), setHash: toHex(setHash), signedPower: signed, totalPower: total };
}

async function verifyCertificate(encoded, chainId, height, blockHash, validators) {
  const fields = decode(encoded);
  check(Array.isArray(fields) && fields.length === 4, "not a certificate");
  const [certHeight, round, certBlockHash, signatures] = fields;
  check(certHeight === height, "the certificate is for another height");
  check(equal(certBlockHash, blockHash), "the certificate is for another block");
  const payload = encode([VOTE_PRECOMMIT, height, round, blockHash]);
  const message = encode([SIGN_DOMAIN, PURPOSE_VOTE, chainId, payload]);
  let power = 0;
  let previous = -1;
  for (const [index, signature] of signatures) {
    check(Number.isInteger(index) && index > previous && index < validators.length, "unknown or repeated signer");
    previous = index;
    const [publicKey, votingPower] = validators[index];
    check(await verifySignature(publicKey, message, signature), `bad signature of validator ${index}`);
    power += votingPower;
  }
  const total = validators.reduce((n, [, p]) => n + p, 0);
  check(power * 3 > total * 2, `the signers hold ${power} of ${total} power, not more than 2/3`);
  return power;
}
