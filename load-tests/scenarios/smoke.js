/**
 * Smoke: one pass over every endpoint with correctness checks, in seconds,
 * including the errors (400, 404, 409, 412 as problem+json). Run it first,
 * after every deploy: any failed check or unexpected status fails the run.
 *
 *   k6 run load-tests/scenarios/smoke.js -e BASE_URL=http://127.0.0.1:8080
 */
import { check, fail } from 'k6';
import { del, get, header, json, patch, post, put, requireReady } from '../lib/api.js';
import { hasShard, isProblem, isUser, problem, status } from '../lib/checks.js';
import { SUMMARY_TREND_STATS } from '../lib/config.js';
import { summaryHandler } from '../lib/summary.js';
import { runId } from '../lib/users.js';

export const options = {
  scenarios: {
    smoke: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '30s' },
  },
  thresholds: {
    checks: ['rate==1'],
    http_req_failed: ['rate==0'],
    http_req_duration: ['p(95)<500', 'p(99)<1000'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  requireReady();
  return { run: runId() };
}

/** A user id no one has (a valid UUIDv7 shape). */
const NOBODY = '01900000-0000-7000-8000-000000000000';

export default function ({ run }) {
  check(get('/healthz', 'healthz'), { 'healthz is 200': status(200) });
  check(get('/readyz', 'readyz'), { 'readyz is 200 and ready': (r) => r.status === 200 && json(r)?.status === 'ready' });

  const email = `smoke-${run}@example.com`;
  const created = post('/v1/users', { email, name: 'Smoke Test', profile: { plan: 'free' } }, 'create-user');
  const user = json(created);
  const createdOk = check(created, {
    'create user is 201': status(201),
    'create user returns the user': (r) => isUser(r) && json(r).email === email,
    'create user sets Location': (r) => header(r, 'location') === `/v1/users/${user?.id}`,
    'create user names its shard': hasShard,
  });
  if (!createdOk || user === undefined) fail(`cannot go on without a user: ${created.status} ${created.body}`);
  const path = `/v1/users/${user.id}`;

  check(post('/v1/users', { email, name: 'Again' }, 'create-user', { expect: [409] }), {
    'duplicate email is 409 problem+json': problem('TESSERA_ERR_EMAIL_TAKEN'),
  });
  check(post('/v1/users', { name: 'No Email' }, 'create-user', { expect: [400] }), {
    'invalid body is 400 problem+json': problem('TESSERA_ERR_VALIDATION'),
  });

  check(get(path, 'get-user'), {
    'get user is 200': status(200),
    'get user carries ETag "1"': (r) => header(r, 'etag') === '"1"',
    'get user names its shard': hasShard,
  });
  check(get(`/v1/users/by-email/${encodeURIComponent(email)}`, 'get-user-by-email'), {
    'get by email finds the user': (r) => r.status === 200 && json(r)?.id === user.id,
  });
  check(get(`/v1/users/${NOBODY}`, 'get-user', { expect: [404] }), {
    'unknown user is 404 problem+json': problem('TESSERA_ERR_USER_NOT_FOUND'),
  });

  check(patch(path, { name: 'Smoke Renamed' }, 'patch-user', { headers: { 'If-Match': '"1"' } }), {
    'patch with matching If-Match is 200': status(200),
    'patch bumps the version': (r) => json(r)?.version === 2 && json(r)?.name === 'Smoke Renamed',
  });
  check(patch(path, { name: 'Stale' }, 'patch-user', { headers: { 'If-Match': '"1"' }, expect: [412] }), {
    'patch with stale If-Match is 412 problem+json': problem('TESSERA_ERR_PRECONDITION_FAILED'),
  });
  check(get('/v1/users?limit=5', 'list-users'), {
    'list users is a page': (r) => r.status === 200 && Array.isArray(json(r)?.users),
  });

  const doc = `${path}/data/smoke.settings`;
  check(put(doc, { theme: 'dark' }, 'put-doc'), { 'new document is 201': status(201) });
  check(put(doc, { theme: 'light' }, 'put-doc'), { 'replaced document is 200': status(200) });
  check(get(doc, 'get-doc'), {
    'get document returns the last value': (r) => r.status === 200 && JSON.stringify(json(r)?.value) === '{"theme":"light"}',
  });
  check(get(`${path}/data?prefix=smoke.&limit=10`, 'list-docs'), {
    'list documents by prefix finds it': (r) => r.status === 200 && (json(r)?.documents || []).some((d) => d.key === 'smoke.settings'),
  });
  check(put(`${path}/data/bad%20key`, 1, 'put-doc', { expect: [400] }), {
    'invalid document key is 400 problem+json': problem('TESSERA_ERR_VALIDATION'),
  });
  check(del(doc, 'delete-doc'), { 'delete document is 204': status(204) });
  check(get(doc, 'get-doc', { expect: [404] }), {
    'deleted document is 404 problem+json': (r) => r.status === 404 && isProblem(r),
  });

  check(del(path, 'delete-user'), { 'delete user is 204': status(204) });
  check(get(path, 'get-user', { expect: [404] }), {
    'deleted user is 404 problem+json': problem('TESSERA_ERR_USER_NOT_FOUND'),
  });
}

export const handleSummary = summaryHandler('smoke');
