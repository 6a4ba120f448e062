/**
 * The requests the load shapes are made of, so read-heavy, write-heavy,
 * mixed, spike and soak send the same reads and writes and differ only in
 * rate and mix.
 */
import exec from 'k6/execution';
import { check } from 'k6';
import { get, patch, post, put } from './api.js';
import { isUser, ok, status, stored } from './checks.js';
import { POOL_DOC_KEY } from './users.js';

/** One read, `dice` in [0, 1): a user by id 80%, its document 15%, a lookup by email 5%. */
export function read(user, dice) {
  if (dice < 0.8) {
    check(get(`/v1/users/${user.id}`, 'get-user'), { 'get user is 200': ok });
  } else if (dice < 0.95) {
    check(get(`/v1/users/${user.id}/data/${POOL_DOC_KEY}`, 'get-doc'), { 'get doc is 200': ok });
  } else {
    check(get(`/v1/users/by-email/${encodeURIComponent(user.email)}`, 'get-user-by-email'), { 'get by email is 200': ok });
  }
}

/** One write, `dice` in [0, 1): create a user 30%, rename one 30%, put one of its documents 40%. */
export function write(user, dice, run) {
  const n = exec.scenario.iterationInTest;
  if (dice < 0.3) {
    const res = post('/v1/users', { email: `lt-${run}-w${n}@example.com`, name: `Writer ${n}` }, 'create-user');
    check(res, { 'create user is 201': (r) => r.status === 201 && isUser(r) });
  } else if (dice < 0.6) {
    // No If-Match: concurrent renames of a hot user must not turn into 412s here.
    check(patch(`/v1/users/${user.id}`, { name: `Renamed ${n}` }, 'patch-user'), { 'patch user is 200': status(200) });
  } else {
    check(put(`/v1/users/${user.id}/data/lt.doc-${n % 16}`, { n, at: Date.now() }, 'put-doc'), { 'put doc is 200 or 201': stored });
  }
}

/** The 90/10 mix of mixed, spike and soak; the dice is rescaled so each branch keeps its own spread. */
export function mixed(user, run) {
  const dice = Math.random();
  if (dice < 0.9) read(user, dice / 0.9);
  else write(user, (dice - 0.9) / 0.1, run);
}
