import { describe, expect, it } from 'vitest';
import { call, createUser, uniqueEmail } from '../support/http.js';
import { testStack, withDb } from '../support/stack.js';

/** Every client mistake gets a 4xx problem+json naming the problem, and changes nothing. */
function expectProblem(res: { status: number; headers: Headers; body: any }, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
  expect(typeof res.body.title).toBe('string');
}

async function userCount(): Promise<number> {
  let total = 0;
  for (const shard of testStack().shards) total += await withDb(shard.primary.url, async (c) => Number((await c.query('SELECT count(*) FROM users')).rows[0].count));
  return total;
}

describe('bad input', () => {
  it('a malformed id is 400 naming params.id', async () => {
    const res = await call('GET', '/v1/users/not-a-uuid');
    expectProblem(res, 400, 'TESSERA_ERR_VALIDATION');
    expect(res.body.field).toBe('params.id');
  });

  it('unknown fields, missing fields, wrong types and bad emails are 400 naming the field, and create nothing', async () => {
    const before = await userCount();
    const cases: [unknown, string][] = [
      [{ email: uniqueEmail(), name: 'x', admin: true }, 'body.admin'],
      [{ name: 'x' }, 'body.email'],
      [{ email: uniqueEmail(), name: 42 }, 'body.name'],
      [{ email: 'not-an-email', name: 'x' }, 'body.email'],
      [{ email: uniqueEmail(), name: '' }, 'body.name'],
      [{ email: uniqueEmail(), name: 'x', profile: [1, 2] }, 'body.profile'],
    ];
    for (const [body, field] of cases) {
      const res = await call('POST', '/v1/users', { body });
      expectProblem(res, 400, 'TESSERA_ERR_VALIDATION');
      expect(res.body.field).toBe(field);
    }
    expect(await userCount()).toBe(before);
  });

  it('an empty PATCH and a PATCH with unknown fields are 400', async () => {
    const { body: user } = await createUser();
    expectProblem(await call('PATCH', `/v1/users/${user.id}`, { body: {} }), 400, 'TESSERA_ERR_VALIDATION');
    expectProblem(await call('PATCH', `/v1/users/${user.id}`, { body: { id: 'x' } }), 400, 'TESSERA_ERR_VALIDATION');
    expectProblem(await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'x' }, headers: { 'if-match': 'banana' } }), 400, 'TESSERA_ERR_VALIDATION');
  });

  it('a wrong content type is 415, malformed JSON is 400', async () => {
    expectProblem(await call('POST', '/v1/users', { raw: 'email=a@b.c', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'TESSERA_ERR_UNSUPPORTED_MEDIA_TYPE');
    expectProblem(await call('POST', '/v1/users', { raw: 'hello', headers: { 'content-type': 'text/plain' } }), 415, 'TESSERA_ERR_UNSUPPORTED_MEDIA_TYPE');
    expectProblem(await call('POST', '/v1/users', { raw: '{"email":', headers: { 'content-type': 'application/json' } }), 400, 'TESSERA_ERR_INVALID_JSON');
  });

  it('an oversized body is 413 and an oversized profile is 413 naming it', async () => {
    expectProblem(await call('POST', '/v1/users', { body: { email: uniqueEmail(), name: 'x', profile: { blob: 'y'.repeat(200 * 1024) } } }), 413, 'TESSERA_ERR_PAYLOAD_TOO_LARGE');
    const res = await call('POST', '/v1/users', { body: { email: uniqueEmail(), name: 'x', profile: { blob: 'y'.repeat(17 * 1024) } } });
    expectProblem(res, 413, 'TESSERA_ERR_PAYLOAD_TOO_LARGE');
    expect(res.body.field).toBe('body.profile');
  });

  it('bad paging parameters are 400', async () => {
    expectProblem(await call('GET', '/v1/users?limit=0'), 400, 'TESSERA_ERR_VALIDATION');
    expectProblem(await call('GET', '/v1/users?limit=abc'), 400, 'TESSERA_ERR_VALIDATION');
    expectProblem(await call('GET', '/v1/users?limit=5000'), 400, 'TESSERA_ERR_VALIDATION');
    expectProblem(await call('GET', '/v1/users?cursor=bm9wZQ'), 400, 'TESSERA_ERR_INVALID_CURSOR');
    expectProblem(await call('GET', '/v1/users?color=red'), 400, 'TESSERA_ERR_VALIDATION');
  });

  it('an unknown route is 404 problem+json', async () => {
    expectProblem(await call('GET', '/v2/users'), 404, 'TESSERA_ERR_ROUTE_NOT_FOUND');
  });

  it('a malformed consistency token is 400', async () => {
    const { body: user } = await createUser();
    expectProblem(await call('GET', `/v1/users/${user.id}`, { headers: { 'x-tessera-consistency': 'nonsense' } }), 400, 'TESSERA_ERR_VALIDATION');
  });
});

describe('routing headers on errors', () => {
  it('a 404, a 412 and a 409 still name the shard that owns the key', async () => {
    const { body: user } = await createUser();
    const missingDoc = await call('GET', `/v1/users/${user.id}/data/none`);
    expect(missingDoc.status).toBe(404);
    expect(missingDoc.headers.get('x-tessera-shard')).toMatch(/^shard-/);
    const stale = await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'x' }, headers: { 'if-match': '"9"' } });
    expect(stale.status).toBe(412);
    expect(stale.headers.get('x-tessera-shard')).toMatch(/^shard-/);
    const dup = await call('POST', '/v1/users', { body: { email: user.email, name: 'dup' } });
    expect(dup.status).toBe(409);
    expect(dup.headers.get('x-tessera-shard')).toMatch(/^shard-/);
  });
});

describe('input PostgreSQL cannot store', () => {
  it('a NUL character anywhere in a body is 400, not a server error', async () => {
    const { body: user } = await createUser();
    expectProblem(await call('POST', '/v1/users', { raw: '{"email":"nul@example.com","name":"a\\u0000b"}', headers: { 'content-type': 'application/json' } }), 400, 'TESSERA_ERR_VALIDATION');
    expectProblem(await call('PUT', `/v1/users/${user.id}/data/k`, { raw: '{"deep":["ok","\\u0000"]}', headers: { 'content-type': 'application/json' } }), 400, 'TESSERA_ERR_VALIDATION');
    expectProblem(await call('PATCH', `/v1/users/${user.id}`, { raw: '{"profile":{"k\\u0000":1}}', headers: { 'content-type': 'application/json' } }), 400, 'TESSERA_ERR_VALIDATION');
    expect((await call('GET', `/v1/users/${user.id}/data/k`)).status).toBe(404);
  });

  it('a path NGINX itself refuses still gets a problem+json 400', async () => {
    expectProblem(await call('GET', '/v1/users/by-email/%ZZ'), 400, 'TESSERA_ERR_VALIDATION');
  });
});
