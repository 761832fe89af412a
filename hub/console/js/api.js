// @ts-check
/**
 * The console's client for the hub's /v1 API: the bearer token from
 * sessionStorage (kept for this tab only, never in localStorage or a
 * cookie), errors in the API's `{ error: { code, message, field } }` shape.
 */

const TOKEN_KEY = 'tributary.token';

/** @typedef {{ ok: true, status: number, data: any }} ApiOk */
/** @typedef {{ ok: false, status: number, code: string, message: string, field?: string, unavailable: boolean }} ApiFail */
/** @typedef {ApiOk | ApiFail} ApiResult */

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** @param {string} token */
export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * Reads an error body; anything that is not the API's error shape still gives a message.
 * @param {Response} r
 * @returns {Promise<ApiFail>}
 */
async function failure(r) {
  /** @type {any} */
  let body = null;
  try {
    body = await r.json();
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  const e = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : {};
  /** @type {ApiFail} */
  const fail = {
    ok: false,
    status: r.status,
    code: typeof e.code === 'string' ? e.code : `HTTP_${r.status}`,
    message: typeof e.message === 'string' ? e.message : `${r.status} ${r.statusText}`,
    // A collection route that answers 404 is a route this hub does not have (yet).
    unavailable: r.status === 404 || r.status === 501,
  };
  if (typeof e.field === 'string') fail.field = e.field;
  return fail;
}

/**
 * @param {string} method
 * @param {string} path under the hub's origin, e.g. "/v1/agents"
 * @param {unknown} [body] sent as JSON
 * @param {string | null} [token] defaults to the stored token
 * @returns {Promise<ApiResult>}
 */
export async function call(method, path, body, token = storedToken()) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: 'no-store', credentials: 'omit' });
  } catch (cause) {
    return { ok: false, status: 0, code: 'NETWORK', message: `the hub did not answer (${String(cause)})`, unavailable: false };
  }
  if (!r.ok) return failure(r);
  const text = await r.text();
  let data = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    return { ok: false, status: r.status, code: 'BAD_RESPONSE', message: 'the hub answered with something that is not JSON', unavailable: false };
  }
  return { ok: true, status: r.status, data };
}

/** @param {string} path */
export const get = (path) => call('GET', path);
/**
 * @param {string} path
 * @param {unknown} [body]
 */
export const post = (path, body) => call('POST', path, body ?? {});

/**
 * A list out of a response: `{ alerts: [...] }` or a bare array.
 * @param {any} data
 * @param {string} key
 * @returns {any[]}
 */
export function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === 'object' && Array.isArray(data[key])) return data[key];
  return [];
}
