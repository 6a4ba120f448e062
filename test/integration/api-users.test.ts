import { describe, expect, it } from 'vitest';
import { call, createUser, uniqueEmail } from '../support/http.js';

describe('users API through NGINX', () => {
  it('creates a user with a UUIDv7 id, a Location header, an ETag and the owning shard', async () => {
    const email = uniqueEmail('create');
    const res = await createUser({ email, name: 'Ada', profile: { lang: 'en' } });
    expect(res.body).toMatchObject({ email, name: 'Ada', profile: { lang: 'en' }, version: 1 });
    expect(res.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.headers.get('location')).toBe(`/v1/users/${res.body.id}`);
    expect(res.headers.get('etag')).toBe('"1"');
    expect(res.headers.get('x-tessera-shard')).toMatch(/^shard-[ab]$/);
    expect(res.headers.get('x-request-id')).toBeTruthy();

    const got = await call('GET', `/v1/users/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
    expect(got.headers.get('etag')).toBe('"1"');
    expect(got.headers.get('x-tessera-shard')).toBe(res.headers.get('x-tessera-shard'));
  });

  it('answers 404 problem+json for a user that does not exist', async () => {
    const res = await call('GET', '/v1/users/01890000-0000-7000-8000-000000000000');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('TESSERA_ERR_USER_NOT_FOUND');
  });

  it('finds a user by email case-insensitively and refuses a second user with that email (409)', async () => {
    const email = uniqueEmail('Mixed.Case');
    const created = await createUser({ email });
    const found = await call('GET', `/v1/users/by-email/${encodeURIComponent(email.toUpperCase())}`);
    expect(found.status).toBe(200);
    expect(found.body.id).toBe(created.body.id);

    const dup = await call('POST', '/v1/users', { body: { email: email.toLowerCase(), name: 'Copy' } });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('TESSERA_ERR_EMAIL_TAKEN');
    expect((await call('GET', `/v1/users/by-email/${encodeURIComponent(uniqueEmail('nobody'))}`)).status).toBe(404);
  });

  it('patches some fields, bumps the version, and honours If-Match with 412 on a stale version', async () => {
    const { body: user } = await createUser({ name: 'Before', profile: { a: 1 } });
    const patched = await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'After' }, headers: { 'if-match': '"1"' } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'After', profile: { a: 1 }, version: 2, email: user.email });
    expect(patched.headers.get('etag')).toBe('"2"');

    const stale = await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'Lost' }, headers: { 'if-match': '"1"' } });
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('TESSERA_ERR_PRECONDITION_FAILED');
    expect((await call('GET', `/v1/users/${user.id}`)).body.name).toBe('After');
    expect((await call('PATCH', '/v1/users/01890000-0000-7000-8000-000000000000', { body: { name: 'x' } })).status).toBe(404);
  });

  it('moves the email claim on an email change: the old email is free, the new one is taken', async () => {
    const oldEmail = uniqueEmail('old');
    const newEmail = uniqueEmail('new');
    const { body: user } = await createUser({ email: oldEmail });
    const other = await createUser();
    expect((await call('PATCH', `/v1/users/${other.body.id}`, { body: { email: oldEmail } })).status).toBe(409);

    const moved = await call('PATCH', `/v1/users/${user.id}`, { body: { email: newEmail } });
    expect(moved.status).toBe(200);
    expect((await call('GET', `/v1/users/by-email/${newEmail}`)).body.id).toBe(user.id);
    expect((await call('GET', `/v1/users/by-email/${oldEmail}`)).status).toBe(404);
    expect((await call('PATCH', `/v1/users/${other.body.id}`, { body: { email: oldEmail } })).status).toBe(200);
    expect((await call('POST', '/v1/users', { body: { email: newEmail, name: 'Dup' } })).status).toBe(409);
  });

  it('deletes a user with its documents and its email claim', async () => {
    const email = uniqueEmail('gone');
    const { body: user } = await createUser({ email });
    expect((await call('PUT', `/v1/users/${user.id}/data/notes`, { body: { x: 1 } })).status).toBe(201);
    const del = await call('DELETE', `/v1/users/${user.id}`);
    expect(del.status).toBe(204);
    expect((await call('GET', `/v1/users/${user.id}`)).status).toBe(404);
    expect((await call('GET', `/v1/users/${user.id}/data/notes`)).status).toBe(404);
    expect((await call('GET', `/v1/users/by-email/${email}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/users/${user.id}`)).status).toBe(404);
    // The email is free again.
    expect((await call('POST', '/v1/users', { body: { email, name: 'Again' } })).status).toBe(201);
  });

  it('lists every user across shards in id order, page by page, with none twice and none skipped', async () => {
    const mine = new Set<string>();
    for (let i = 0; i < 25; i++) mine.add((await createUser({ name: `list-${i}` })).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: { users: { id: string }[]; nextCursor: string | null } } = await call(
        'GET',
        `/v1/users?limit=7${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.users.length).toBeLessThanOrEqual(7);
      seen.push(...res.body.users.map((u) => u.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10_000);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(seen);
    for (const id of mine) expect(seen).toContain(id);
  });
});

describe('concurrent updates', () => {
  it('20 concurrent PATCHes of one user without If-Match all succeed, each version once', async () => {
    const { body: user } = await createUser({ name: 'contended' });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call('PATCH', `/v1/users/${user.id}`, { body: { profile: { writer: i } } })));
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 200));
    expect(results.map((r) => r.body.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    expect((await call('GET', `/v1/users/${user.id}`, { headers: { 'x-tessera-consistency': results[0]!.headers.get('x-tessera-consistency')! } })).body.version).toBe(21);
  });

  it('concurrent PATCHes with If-Match of the same version: one wins, the rest get 412', async () => {
    const { body: user } = await createUser();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => call('PATCH', `/v1/users/${user.id}`, { body: { name: `w${i}` }, headers: { 'if-match': '"1"' } })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(9);
  });
});
