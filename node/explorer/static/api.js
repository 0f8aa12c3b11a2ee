// The node's REST API, read from the same origin as the page (no CORS needed, no credentials).
// Integers beyond 2^53 (amounts up to 2^63) are kept exact as BigInt, never rounded.

const API_PREFIX = "/api/v1";
const PAGE_LIMIT = 100;
const PAGES_MAX = 20;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function reviveExactInteger(key, value, context) {
  const source = context && context.source;
  if (typeof value === "number" && !Number.isSafeInteger(value) && typeof source === "string"
      && /^-?\d+$/.test(source)) {
    return BigInt(source);
  }
  return value;
}

/** JSON with integers kept exact (BigInt beyond 2^53); null when the text is not JSON. */
export function parseExactJson(text) {
  try {
    return JSON.parse(text, reviveExactInteger);
  } catch {
    return null;
  }
}

export async function getJson(path) {
  const response = await fetch(API_PREFIX + path, {
    headers: { Accept: "application/json" },
    cache: "no-store",
  });
  const body = parseExactJson(await response.text());
  if (!response.ok || body === null) {
    const error = (body && body.error) || {};
    throw new ApiError(response.status, error.code || `http_${response.status}`,
      error.message || response.statusText || "unreadable answer");
  }
  return body;
}

/** Every item of a paged list (at most PAGES_MAX pages); `complete` says if all were read. */
export async function getAllPages(path) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < PAGES_MAX; page += 1) {
    const query = `?limit=${PAGE_LIMIT}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const answer = await getJson(path + query);
    items.push(...answer.items);
    cursor = answer.next_cursor;
    if (!cursor) return { items, complete: true };
  }
  return { items, complete: false };
}

/** Instruments by id (decimals, currency, issuer): read fresh for each page shown. */
export async function getInstruments() {
  const { items } = await getAllPages("/instruments");
  return new Map(items.map((instrument) => [instrument.instrument_id, instrument]));
}

export function pathPart(text) {
  return encodeURIComponent(text);
}
