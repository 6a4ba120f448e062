/**
 * The user-id pool the read and write scenarios draw from, and the
 * popularity model that picks from it.
 *
 * `setup()` builds the pool once: users already in the stack (from `npx
 * tessera seed` or earlier runs) by listing `GET /v1/users` pages, then
 * creates whatever is missing, and makes sure each has the `POOL_DOC_KEY`
 * document the reads ask for. Each VU then picks users with a Zipf-like law
 * from a seeded PRNG, so a few users take most reads, as in real traffic, and
 * two runs with the same `SEED` have the same popularity ranking.
 */
import http from 'k6/http';
import exec from 'k6/execution';
import { fail } from 'k6';
import { BASE_URL, headers, num } from './config.js';
import { prng, zipfPicker } from './random.js';

export { prng, zipfPicker };
import { json } from './api.js';

/** Key of the document setup writes for every pool user. */
export const POOL_DOC_KEY = 'profile.settings';

/** Requests in one `http.batch` while building the pool: fast, and not a spike of its own. */
const BATCH = 20;

/** A token that keeps this run's emails apart from every other run's. */
export function runId() {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Returns `size` users (`{ id, email }`) that exist and have a `POOL_DOC_KEY` document. Call in `setup()`. */
export function userPool(size, run = runId()) {
  const pool = [];
  const seen = new Set();
  let cursor = null;
  while (pool.length < size) {
    const query = `limit=${Math.min(1000, size)}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page = http.get(`${BASE_URL}/v1/users?${query}`, { headers: headers({}, false), tags: { name: 'setup-list-users' } });
    if (page.status !== 200) fail(`listing users failed: ${page.status} ${String(page.body).slice(0, 200)}`);
    const body = json(page) || {};
    for (const u of body.users || []) {
      if (pool.length < size && !seen.has(u.id)) {
        seen.add(u.id);
        pool.push({ id: u.id, email: u.email });
      }
    }
    cursor = body.nextCursor ?? null;
    if (cursor === null) break;
  }
  for (let from = pool.length; from < size; from += BATCH) {
    const emails = [];
    for (let n = from; n < Math.min(size, from + BATCH); n++) emails.push(`lt-${run}-${n}@example.com`);
    const responses = http.batch(
      emails.map((email, i) => ['POST', `${BASE_URL}/v1/users`, JSON.stringify({ email, name: `Load Test ${from + i}` }), { headers: headers(), tags: { name: 'setup-create-user' } }]),
    );
    responses.forEach((res, i) => {
      if (res.status !== 201) fail(`creating pool user failed: ${res.status} ${String(res.body).slice(0, 200)}`);
      pool.push({ id: json(res).id, email: emails[i] });
    });
  }
  // Idempotent PUTs: every pool user gets the document the reads ask for.
  for (let from = 0; from < pool.length; from += BATCH) {
    const slice = pool.slice(from, from + BATCH);
    const responses = http.batch(
      slice.map((u, i) => ['PUT', `${BASE_URL}/v1/users/${u.id}/data/${POOL_DOC_KEY}`, JSON.stringify({ theme: 'dark', n: from + i }), { headers: headers(), tags: { name: 'setup-put-doc' } }]),
    );
    responses.forEach((res) => {
      if (res.status !== 200 && res.status !== 201) fail(`writing pool document failed: ${res.status} ${String(res.body).slice(0, 200)}`);
    });
  }
  return pool;
}

let picker;

/**
 * The next pool user by Zipf popularity (`ZIPF_S`, default 1.1). Each VU
 * builds its picker once, seeded with `SEED` (default 42) and its VU id, so
 * VUs do not replay one another's sequence.
 */
export function popularUser(pool) {
  if (picker === undefined) {
    const s = __ENV.ZIPF_S === undefined || __ENV.ZIPF_S === '' ? 1.1 : Number(__ENV.ZIPF_S);
    picker = zipfPicker(pool.length, s, prng(num('SEED', 42) * 7919 + exec.vu.idInTest));
  }
  return pool[picker()];
}
