// The portal's only way to the server: fetch with the bearer token, problem+json made plain.

const TOKEN_KEY = "suanwang.token";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** No answer at all: the connection failed or the call timed out. */
export class Unreachable extends Error {}

// A read that takes longer than this is given up: the next poll asks again.
const READ_TIMEOUT_MS = 10_000;

export function savedToken() {
  // sessionStorage, not localStorage: the token leaves with the tab.
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  conditional.clear(); // bodies read with another token are not this one's
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

async function failure(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    detail = body.detail || body.title || detail;
  } catch {
    // Not JSON (a proxy's page): keep the status line.
  }
  return new ApiError(response.status, detail);
}

/** One call to the API; resolves to the JSON body, rejects with an ApiError (the server
 * refused) or an Unreachable (no answer). */
export async function call(method, path, body, token = savedToken(), timeoutMs = undefined) {
  const response = await send(method, path, body, token, timeoutMs, {});
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

async function send(method, path, body, token, timeoutMs, extra) {
  const headers = { Accept: "application/json", ...extra };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined,
    });
  } catch (error) {
    throw new Unreachable(`no answer from the server (${error.message})`);
  }
}

// The last body and ETag of each conditional read (a few polled paths, so a small map).
const conditional = new Map();
const CONDITIONAL_PATHS = 8;

/** A polled read sent with the ETag of the body held: on 304 the very object held comes
 * back, so a caller can tell "unchanged" by identity and skip its redraw. */
export async function getIfChanged(path) {
  const held = conditional.get(path);
  const extra = held ? { "If-None-Match": held.etag } : {};
  const response = await send("GET", path, undefined, savedToken(), READ_TIMEOUT_MS, extra);
  if (response.status === 304 && held) return held.body;
  if (!response.ok) throw await failure(response);
  const body = await response.json();
  const etag = response.headers.get("ETag");
  conditional.delete(path);
  if (etag) conditional.set(path, { etag, body });
  if (conditional.size > CONDITIONAL_PATHS) conditional.delete(conditional.keys().next().value);
  return body;
}

// Only reads time out: a submission given up on might still have been stored.
export const get = (path) => call("GET", path, undefined, savedToken(), READ_TIMEOUT_MS);
export const post = (path, body) => call("POST", path, body);

/** A report file as text (a CSV of a twin run). */
export async function getText(path) {
  const response = await send("GET", path, undefined, savedToken(), READ_TIMEOUT_MS, { Accept: "text/csv" });
  if (!response.ok) throw await failure(response);
  return response.text();
}

/** A report file (an image) as an object URL: an <img> cannot send the bearer header itself. */
export async function blobUrl(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${savedToken()}` } });
  if (!response.ok) throw await failure(response);
  return URL.createObjectURL(await response.blob());
}
