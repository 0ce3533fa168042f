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
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined,
    });
  } catch (error) {
    throw new Unreachable(`no answer from the server (${error.message})`);
  }
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

// Only reads time out: a submission given up on might still have been stored.
export const get = (path) => call("GET", path, undefined, savedToken(), READ_TIMEOUT_MS);
export const post = (path, body) => call("POST", path, body);

/** A report file (an image) as an object URL: an <img> cannot send the bearer header itself. */
export async function blobUrl(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${savedToken()}` } });
  if (!response.ok) throw await failure(response);
  return URL.createObjectURL(await response.blob());
}
