/**
 * Input that JSON or a URL can carry but Tessera cannot store or give back
 * unchanged: each gets a 4xx problem through NGINX, and nothing is stored.
 */
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/api/json-scan.js';
import { serviceAuthHeaders } from '../support/auth.js';
import { call, createUser, rawCall, uniqueEmail } from '../support/http.js';
import { testStack, withDb } from '../support/stack.js';

function expectProblem(res: { status: number; headers: Headers; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
}

const json = { 'content-type': 'application/json' };

/** Rows of one user's documents and of users holding `email`, on every shard primary. */
async function stored(userId: string, email?: string): Promise<{ documents: number; users: number }> {
  let documents = 0;
  let users = 0;
  for (const shard of testStack().shards) {
    await withDb(shard.primary.url, async (c) => {
      documents += Number((await c.query('SELECT count(*) FROM documents WHERE user_id = $1', [userId])).rows[0].count);
      if (email) users += Number((await c.query('SELECT count(*) FROM users WHERE lower(email) = lower($1)', [email])).rows[0].count);
    });
  }
  return { documents, users };
}

/** A value nested `depth` deep (arrays). */
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('nesting', () => {
  it(`a document or profile nested 5,000 deep is 400, not a stack overflow, and nothing is stored`, async () => {
    const { body: user } = await createUser();
    const doc = await call('PUT', `/v1/users/${user.id}/data/deep`, { raw: nested(5000), headers: json });
    expectProblem(doc, 400, 'TESSERA_ERR_JSON_TOO_DEEP');
    expect(doc.body.field).toBe('body');
    const email = uniqueEmail('deep');
    expectProblem(await call('POST', '/v1/users', { raw: `{"email":"${email}","name":"x","profile":{"p":${nested(5000)}}}`, headers: json }), 400, 'TESSERA_ERR_JSON_TOO_DEEP');
    expectProblem(await call('PATCH', `/v1/users/${user.id}`, { raw: `{"profile":{"p":${nested(3000)}}}`, headers: json }), 400, 'TESSERA_ERR_JSON_TOO_DEEP');
    expect(await stored(user.id, email)).toEqual({ documents: 0, users: 0 });
    expect((await call('GET', `/v1/users/${user.id}`)).body.profile).toEqual({});
  });

  it(`a document nested exactly ${MAX_JSON_DEPTH} deep is stored and reads back the same`, async () => {
    const { body: user } = await createUser();
    const value = JSON.parse(nested(MAX_JSON_DEPTH));
    expect((await call('PUT', `/v1/users/${user.id}/data/edge`, { raw: nested(MAX_JSON_DEPTH), headers: json })).status).toBe(201);
    expect((await call('GET', `/v1/users/${user.id}/data/edge`)).body.value).toEqual(value);
    expectProblem(await call('PUT', `/v1/users/${user.id}/data/edge`, { raw: nested(MAX_JSON_DEPTH + 1), headers: json }), 400, 'TESSERA_ERR_JSON_TOO_DEEP');
  });
});

describe('text PostgreSQL cannot store', () => {
  it('a lone surrogate in a document value or key, a profile, or a name is 400 and nothing is stored', async () => {
    const { body: user } = await createUser({ name: 'Before' });
    expectProblem(await call('PUT', `/v1/users/${user.id}/data/s`, { raw: '{"v":"\\ud800"}', headers: json }), 400, 'TESSERA_ERR_VALIDATION');
    expectProblem(await call('PUT', `/v1/users/${user.id}/data/s`, { raw: '{"\\udc00":1}', headers: json }), 400, 'TESSERA_ERR_VALIDATION');
    expectProblem(await call('PATCH', `/v1/users/${user.id}`, { raw: '{"profile":{"a":"x\\ud800y"}}', headers: json }), 400, 'TESSERA_ERR_VALIDATION');
    expectProblem(await call('PATCH', `/v1/users/${user.id}`, { raw: '{"name":"\\ud800"}', headers: json }), 400, 'TESSERA_ERR_VALIDATION');
    const email = uniqueEmail('surrogate');
    expectProblem(await call('POST', '/v1/users', { raw: `{"email":"${email}","name":"a\\udbffb"}`, headers: json }), 400, 'TESSERA_ERR_VALIDATION');
    expect(await stored(user.id, email)).toEqual({ documents: 0, users: 0 });
    const after = await call('GET', `/v1/users/${user.id}`);
    expect(after.body).toMatchObject({ name: 'Before', profile: {}, version: 1 });
  });

  it('a surrogate pair (an emoji, escaped or not) is stored and read back unchanged', async () => {
    const { body: user } = await createUser();
    const put = await call('PUT', `/v1/users/${user.id}/data/emoji`, { raw: '{"a":"\\ud83d\\ude00","😀":"😀"}', headers: json });
    expect(put.status).toBe(201);
    expect((await call('GET', `/v1/users/${user.id}/data/emoji`)).body.value).toEqual({ a: '😀', '😀': '😀' });
  });

  it('bytes that are not UTF-8 are 400, not silently replaced, and a non-UTF-8 charset is 415', async () => {
    const { body: user } = await createUser({ name: 'Before' });
    const res = await fetch(`${testStack().nginx.url}/v1/users/${user.id}`, { method: 'PATCH', headers: { ...json, ...(await serviceAuthHeaders()) }, body: Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'TESSERA_ERR_INVALID_JSON', field: 'body' });
    expectProblem(await call('PATCH', `/v1/users/${user.id}`, { raw: '{"name":"x"}', headers: { 'content-type': 'application/json; charset=iso-8859-1' } }), 415, 'TESSERA_ERR_UNSUPPORTED_MEDIA_TYPE');
    expect((await call('PATCH', `/v1/users/${user.id}`, { raw: '{"name":"é"}', headers: { 'content-type': 'application/json; charset=UTF-8' } })).status).toBe(200);
  });

  it('percent-encoded text that is not UTF-8, or a lone surrogate, in a path or query is 400', async () => {
    const { body: user } = await createUser();
    for (const path of [`/v1/users/by-email/a%ED%A0%80@example.com`, `/v1/users/by-email/%FF@example.com`, `/v1/users/${user.id}/data/%ED%A0%80`, `/v1/users/${user.id}/data?prefix=%ED%A0%80`, `/v1/users/${user.id}/data?prefix=%FF`]) {
      const res = await call('GET', path);
      expect(res.status, path).toBe(400);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/problem\+json/);
    }
  });
});

describe('numbers', () => {
  it('a number a double cannot hold exactly is 400 and nothing is stored, in a document or a profile', async () => {
    const { body: user } = await createUser();
    for (const literal of ['1e400', '1e-400', '9007199254740993', '1.00000000000000000001']) {
      const res = await call('PUT', `/v1/users/${user.id}/data/n`, { raw: `{"n":${literal}}`, headers: json });
      expectProblem(res, 400, 'TESSERA_ERR_JSON_INEXACT_NUMBER');
      expect(res.body.detail).toContain(literal);
      expectProblem(await call('PATCH', `/v1/users/${user.id}`, { raw: `{"profile":{"n":[${literal}]}}`, headers: json }), 400, 'TESSERA_ERR_JSON_INEXACT_NUMBER');
    }
    expect(await stored(user.id)).toEqual({ documents: 0, users: 0 });
    expect((await call('GET', `/v1/users/${user.id}`)).body).toMatchObject({ profile: {}, version: 1 });
  });

  it('numbers that a double holds are stored and read back as the same value, whatever their spelling', async () => {
    const { body: user } = await createUser();
    const put = await call('PUT', `/v1/users/${user.id}/data/n`, { raw: '[0.1, 1.0, 1e3, -0, 9007199254740991, 1.7976931348623157e308, 5e-324, 0.30000000000000004]', headers: json });
    expect(put.status).toBe(201);
    expect((await call('GET', `/v1/users/${user.id}/data/n`)).body.value).toEqual([0.1, 1, 1000, 0, 9007199254740991, 1.7976931348623157e308, 5e-324, 0.30000000000000004]);
  });
});

describe('document keys', () => {
  it('"." and ".." are refused (clients drop such path segments, so they could never be read back); keys merely starting with dots are fine', async () => {
    const { body: user } = await createUser();
    for (const key of ['%2E', '%2E%2E', '%2e%2E']) {
      const res = await rawCall('PUT', `/v1/users/${user.id}/data/${key}`, { body: '1', headers: json });
      expectProblem(res, 400, 'TESSERA_ERR_VALIDATION');
      expect(res.body.field).toBe('params.key');
    }
    expect(await stored(user.id)).toEqual({ documents: 0, users: 0 });
    for (const key of ['...', '.a', '..a', 'a..']) expect((await call('PUT', `/v1/users/${user.id}/data/${key}`, { body: 1 })).status, key).toBe(201);
    expect((await call('GET', `/v1/users/${user.id}/data/..a`)).body.value).toBe(1);
  });
});
