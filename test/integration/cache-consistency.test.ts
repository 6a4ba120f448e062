import { describe, expect, it } from 'vitest';
import { apps, dbReads, eventually, inspectCache, sleep } from '../support/cache.js';
import { call, createUser } from '../support/http.js';
import { testStack, withDb } from '../support/stack.js';

/** The shard of the test stack that owns a user (from the response header). */
function shardOf(name: string) {
  return testStack().shards.find((s) => s.name === name)!;
}

async function dbVersion(shardName: string, id: string): Promise<number> {
  return withDb(shardOf(shardName).primary.url, async (c) => Number((await c.query('SELECT version FROM users WHERE id = $1', [id])).rows[0].version));
}

describe('replica reads and cache tiers under concurrency', () => {
  it('stale-replica race: a paused replica never puts an old version in a cache, and a token read sees the write at once', async () => {
    const [a, b] = apps();
    const created = await createUser({ name: 'v1' }, a!.url);
    const id = created.body.id as string;
    const shard = shardOf(created.headers.get('x-tessera-shard')!);
    const replicaUrl = shard.replicas[0]!.url;
    await eventually(() => withDb(replicaUrl, async (c) => (await c.query('SELECT 1 FROM users WHERE id = $1', [id])).rowCount === 1));
    expect((await call('GET', `/v1/users/${id}`, { base: b!.url })).body.version).toBe(1); // warm b's caches

    await withDb(replicaUrl, (c) => c.query('SELECT pg_wal_replay_pause()'));
    try {
      const patched = await call('PATCH', `/v1/users/${id}`, { base: a!.url, body: { name: 'v2' } });
      expect(patched.status).toBe(200);
      const token = patched.headers.get('x-tessera-consistency')!;
      expect(token).toMatch(new RegExp(`^${shard.name}@[0-9A-F]+/[0-9A-F]+$`));
      // The replica really is behind.
      expect(await withDb(replicaUrl, async (c) => Number((await c.query('SELECT version FROM users WHERE id = $1', [id])).rows[0].version))).toBe(1);

      const withToken = await call('GET', `/v1/users/${id}`, { base: b!.url, headers: { 'x-tessera-consistency': token } });
      expect(withToken.body.version).toBe(2);
      expect(withToken.headers.get('x-tessera-source')).toBe('primary');

      for (let i = 0; i < 5; i++) {
        const plain = await call('GET', `/v1/users/${id}`, { base: b!.url });
        expect(plain.status).toBe(200);
        // Never older than the database in any cache: whatever answered, the tiers hold v2 or nothing.
        for (const app of apps()) {
          const held = await inspectCache(app.url, `u:${id}`);
          if (held.l1) expect(held.l1.v).toBe(2);
          if (held.l2) expect(held.l2.v).toBe(2);
        }
        expect(plain.body.version).toBe(2);
      }
    } finally {
      await withDb(replicaUrl, (c) => c.query('SELECT pg_wal_replay_resume()'));
    }
    expect(await dbVersion(shard.name, id)).toBe(2);
  });

  it('cross-replica invalidation: a write through one app reaches the other\'s L1 at once, and a read with the write\'s token sees it immediately', async () => {
    const [a, b] = apps();
    const { body: user } = await createUser({ name: 'n0' }, a!.url);
    for (let i = 1; i <= 30; i++) {
      const before = await call('GET', `/v1/users/${user.id}`, { base: b!.url }); // b caches the current version in L1
      expect(before.body.version).toBe(i);
      const w = await call('PATCH', `/v1/users/${user.id}`, { base: a!.url, body: { name: `n${i}` } });
      expect(w.status).toBe(200);
      // The write's token: read-your-writes on another replica, whatever its L1 held.
      const token = w.headers.get('x-tessera-consistency')!;
      const fresh = await call('GET', `/v1/users/${user.id}`, { base: b!.url, headers: { 'x-tessera-consistency': token } });
      expect(fresh.body.name, `round ${i}, with token: served from ${fresh.headers.get('x-tessera-cache')}`).toBe(`n${i}`);
      // Without the token: the invalidation was handed to b's socket before the write returned,
      // but b may read its HTTP request before that message (one event-loop turn), so "at once"
      // means within a moment, well before the L1 TTL (5 s, at least 4 s with jitter) would expire the entry.
      expect(await eventually(async () => (await call('GET', `/v1/users/${user.id}`, { base: b!.url })).body.name === `n${i}`, 3000, 5)).toBe(true);
    }
  });

  it('stampede: 1,000 concurrent reads of one cold key through one app replica make exactly one database query', async () => {
    const [a, b] = apps();
    const created = await createUser({ name: 'cold' }, a!.url);
    const id = created.body.id as string;
    const shard = shardOf(created.headers.get('x-tessera-shard')!);
    // Let the replica have the row, so the single load needs no second try on the primary.
    await eventually(() => withDb(shard.replicas[0]!.url, async (c) => (await c.query('SELECT 1 FROM users WHERE id = $1', [id])).rowCount === 1));
    const before = await dbReads(b!.url);
    const replies = await Promise.all(Array.from({ length: 1000 }, () => call('GET', `/v1/users/${id}`, { base: b!.url })));
    expect(replies.every((r) => r.status === 200 && r.body.id === id)).toBe(true);
    expect((await dbReads(b!.url)) - before).toBe(1);
  });

  it('not-found is cached briefly and a create for that key clears it', async () => {
    const [a, b] = apps();
    const email = `neg-${Date.now()}@example.com`;
    expect((await call('GET', `/v1/users/by-email/${email}`, { base: b!.url })).status).toBe(404);
    const miss2 = await call('GET', `/v1/users/by-email/${email}`, { base: b!.url });
    expect(miss2.status).toBe(404);
    expect(miss2.headers.get('x-tessera-cache')).toBe('l1');
    const created = await createUser({ email }, a!.url);
    const found = await call('GET', `/v1/users/by-email/${email}`, { base: b!.url });
    expect(found.status).toBe(200);
    expect(found.body.id).toBe(created.body.id);
  });

  it('randomized interleaving: after concurrent writers and readers, every cached value equals the database version', async () => {
    const appList = apps();
    const users = await Promise.all(Array.from({ length: 4 }, (_, i) => createUser({ name: `mix${i}` }, appList[i % appList.length]!.url)));
    const ids = users.map((u) => u.body.id as string);
    const shards = new Map(users.map((u) => [u.body.id as string, u.headers.get('x-tessera-shard')!]));
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
    const errors: string[] = [];
    const until = Date.now() + 5000;
    const worker = async (write: boolean) => {
      while (Date.now() < until) {
        const id = pick(ids);
        const app = pick(appList);
        const res = write
          ? await call('PATCH', `/v1/users/${id}`, { base: app.url, body: { profile: { n: Math.random() } } })
          : await call('GET', `/v1/users/${id}`, { base: app.url });
        if (res.status !== 200) errors.push(`${res.status} ${JSON.stringify(res.body)}`);
        if (!write) await sleep(Math.random() * 3);
      }
    };
    await Promise.all([...Array.from({ length: 4 }, () => worker(true)), ...Array.from({ length: 8 }, () => worker(false))]);
    expect(errors).toEqual([]);
    await sleep(200); // let the last invalidations land
    for (const id of ids) {
      const version = await dbVersion(shards.get(id)!, id);
      for (const app of appList) {
        const held = await inspectCache(app.url, `u:${id}`);
        if (held.l1) expect(held.l1.v, `L1 of ${app.id} for ${id}`).toBe(version);
        if (held.l2 && held.l2.kind === 'data') expect(held.l2.v, `L2 for ${id}`).toBe(version);
        if (held.l2) expect(held.l2.v).toBe(version);
      }
      // And a read now returns exactly that version through every app.
      for (const app of appList) expect((await call('GET', `/v1/users/${id}`, { base: app.url })).body.version).toBe(version);
    }
  });
});
