/**
 * Requests against the Tessera API with the shared headers, a `name` tag per
 * endpoint (so `http_req_duration{name:get-user}` groups URLs that carry ids)
 * and, where a scenario asks for an error on purpose, the statuses that are
 * not failures for `http_req_failed`.
 */
import http from 'k6/http';
import { fail } from 'k6';
import { AUTH_TOKEN, BASE_URL, headers } from './config.js';

/**
 * Request parameters. `expect` lists statuses that count as success for
 * `http_req_failed` (k6's default is 200–399); `timeout` is a k6 duration.
 */
function params(name, { expect, timeout, headers: extra } = {}, withBody = false) {
  const p = { headers: headers(extra, withBody), tags: { name } };
  if (expect !== undefined) p.responseCallback = http.expectedStatuses(...expect);
  if (timeout !== undefined) p.timeout = timeout;
  return p;
}

const url = (path) => `${BASE_URL}${path}`;
const body = (value) => JSON.stringify(value);

export const get = (path, name, opts) => http.get(url(path), params(name, opts));
export const post = (path, value, name, opts) => http.post(url(path), body(value), params(name, opts, true));
export const put = (path, value, name, opts) => http.put(url(path), body(value), params(name, opts, true));
export const patch = (path, value, name, opts) => http.patch(url(path), body(value), params(name, opts, true));
export const del = (path, name, opts) => http.del(url(path), null, params(name, opts));

/** The parsed JSON body, or undefined when there is none (k6's `r.json()` throws). */
export function json(res) {
  try {
    return res.json();
  } catch {
    return undefined;
  }
}

/** A response header, whatever its case (k6 canonicalises names: `Etag`, `X-Tessera-Shard`). */
export function header(res, name) {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(res.headers || {})) if (key.toLowerCase() === wanted) return res.headers[key];
  return undefined;
}

/**
 * Stops the run before any load when the target is not ready: a run against
 * a half-started stack measures nothing. Call first thing in `setup()`.
 */
export function requireReady() {
  const res = http.get(url('/readyz'), { headers: headers({}, false), tags: { name: 'readyz' }, timeout: '5s' });
  if (res.status !== 200) {
    const why = res.status === 0 ? res.error : `status ${res.status} ${String(res.body).slice(0, 200)}`;
    fail(`${BASE_URL}/readyz is not ready (${why}): start the stack first (npm run up, or docker compose up -d)`);
  }
  // Every /v1 call needs a bearer token: without a good one every request of the run would be a 401.
  if (AUTH_TOKEN === '') {
    fail('AUTH_TOKEN is not set: mint one with `npx tessera token --scope users:read,users:write,users:list` (npm run load does it for you)');
  }
  const probe = http.get(url('/v1/users/00000000-0000-7000-8000-000000000000'), { headers: headers({}, false), tags: { name: 'auth-probe' }, timeout: '5s' });
  if (probe.status === 401 || probe.status === 403) {
    fail(`${BASE_URL} refused AUTH_TOKEN (${probe.status} ${String(probe.body).slice(0, 200)}): mint a fresh one with \`npx tessera token\``);
  }
}
