import { describe, expect, it } from 'vitest';
import { call, createUser } from '../support/http.js';

describe('documents API through NGINX', () => {
  it('stores any JSON value under a key: 201 when new, 200 when replaced, each with a version', async () => {
    const { body: user } = await createUser();
    const first = await call('PUT', `/v1/users/${user.id}/data/settings`, { body: { theme: 'dark' } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ key: 'settings', value: { theme: 'dark' }, version: 1 });
    expect(first.headers.get('etag')).toBe('"1"');

    const second = await call('PUT', `/v1/users/${user.id}/data/settings`, { body: [1, 'two', null] });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ value: [1, 'two', null], version: 2 });

    for (const value of ['text', 42, true, null]) {
      const res = await call('PUT', `/v1/users/${user.id}/data/scalar`, { body: value });
      expect([200, 201]).toContain(res.status);
      const got = await call('GET', `/v1/users/${user.id}/data/scalar`);
      expect(got.status).toBe(200);
      expect(got.body.value).toEqual(value);
    }
  });

  it('reads and deletes one document (200/204, then 404)', async () => {
    const { body: user } = await createUser();
    await call('PUT', `/v1/users/${user.id}/data/a.b_c-d~e:f`, { body: { n: 1 } });
    const got = await call('GET', `/v1/users/${user.id}/data/a.b_c-d~e:f`);
    expect(got.status).toBe(200);
    expect(got.body.value).toEqual({ n: 1 });
    expect(got.headers.get('x-tessera-shard')).toBeTruthy();
    expect((await call('DELETE', `/v1/users/${user.id}/data/a.b_c-d~e:f`)).status).toBe(204);
    expect((await call('GET', `/v1/users/${user.id}/data/a.b_c-d~e:f`)).status).toBe(404);
    expect((await call('DELETE', `/v1/users/${user.id}/data/a.b_c-d~e:f`)).status).toBe(404);
  });

  it('answers 404 for documents of an unknown user, on write and on list', async () => {
    const ghost = '01890000-0000-7000-8000-00000000abcd';
    const put = await call('PUT', `/v1/users/${ghost}/data/k`, { body: 1 });
    expect(put.status).toBe(404);
    expect(put.body.code).toBe('TESSERA_ERR_USER_NOT_FOUND');
    expect((await call('GET', `/v1/users/${ghost}/data`)).status).toBe(404);
  });

  it('honours If-Match (412 on a stale or missing version) and If-None-Match: *', async () => {
    const { body: user } = await createUser();
    const path = `/v1/users/${user.id}/data/cas`;
    expect((await call('PUT', path, { body: 1, headers: { 'if-match': '"1"' } })).status).toBe(412);
    expect((await call('PUT', path, { body: 1, headers: { 'if-none-match': '*' } })).status).toBe(201);
    expect((await call('PUT', path, { body: 2, headers: { 'if-none-match': '*' } })).status).toBe(412);
    expect((await call('PUT', path, { body: 2, headers: { 'if-match': '"1"' } })).status).toBe(200);
    const stale = await call('PUT', path, { body: 3, headers: { 'if-match': '"1"' } });
    expect(stale.status).toBe(412);
    expect(stale.body.currentVersion).toBe(2);
    expect((await call('GET', path)).body.value).toBe(2);
  });

  it("lists a user's documents in key order with a prefix filter and an opaque cursor", async () => {
    const { body: user } = await createUser();
    const keys = ['app.theme', 'app.lang', 'app.tz', 'other', 'app.font', 'zeta'];
    for (const k of keys) await call('PUT', `/v1/users/${user.id}/data/${k}`, { body: { k } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { documents: { key: string; value: unknown }[]; nextCursor: string | null } } = await call(
        'GET',
        `/v1/users/${user.id}/data?prefix=app.&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.documents.map((d) => d.key));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['app.font', 'app.lang', 'app.theme', 'app.tz']);
    const all = await call('GET', `/v1/users/${user.id}/data?limit=100`);
    expect(all.body.documents.map((d: { key: string }) => d.key)).toEqual([...keys].sort());
  });

  it('refuses a document over the size limit with 413 and stores nothing', async () => {
    const { body: user } = await createUser();
    const big = { blob: 'x'.repeat(70 * 1024) };
    const res = await call('PUT', `/v1/users/${user.id}/data/big`, { body: big });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await call('GET', `/v1/users/${user.id}/data/big`)).status).toBe(404);
  });

  it('refuses keys outside the safe set with 400', async () => {
    const { body: user } = await createUser();
    for (const key of ['has%20space', 'x'.repeat(201), 'semi%3Bcolon']) {
      const res = await call('PUT', `/v1/users/${user.id}/data/${key}`, { body: 1 });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe('params.key');
    }
  });
});
