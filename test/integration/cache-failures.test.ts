import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pgContextFor, startInstance, startRedis, stopInstance } from '../../src/cluster/index.js';
import { apps, eventually, inspectCache } from '../support/cache.js';
import { call, createUser } from '../support/http.js';
import { testStack, withDb } from '../support/stack.js';

describe('degraded dependencies', () => {
  it('Redis killed mid-run: reads and writes keep succeeding; after Redis returns, L2 fills again without restarting the app', async () => {
    const stack = testStack();
    const [a] = apps();
    const users = await Promise.all(Array.from({ length: 5 }, () => createUser()));
    process.kill(stack.redis.pid!, 'SIGKILL');
    try {
      await eventually(async () => (await call('GET', '/readyz', { base: a!.url })).body.redis !== 'up', 5000);
      const ready = await call('GET', '/readyz', { base: a!.url });
      expect(ready.status).toBe(200); // degraded, not unready
      expect(ready.body.redis).toMatch(/down/);
      for (const u of users) {
        const patched = await call('PATCH', `/v1/users/${u.body.id}`, { body: { name: 'while redis was down' } });
        expect(patched.status).toBe(200);
        // Read-your-writes across replicas rests on the write's token here: with
        // Redis down no other app learns the new version floor, and a token-free
        // read may come from a streaming replica a few ms behind.
        const token = patched.headers.get('x-tessera-consistency');
        expect(token).toMatch(/^shard-[a-z]+@/);
        const got = await call('GET', `/v1/users/${u.body.id}`, { headers: { 'x-tessera-consistency': token! } });
        expect(got.status).toBe(200);
        expect(got.body.name).toBe('while redis was down');
      }
      // A new user, read with its create's token for the same reason as above.
      const created = await createUser();
      const createdToken = created.headers.get('x-tessera-consistency')!;
      expect((await call('GET', `/v1/users/${created.body.id}`, { headers: { 'x-tessera-consistency': createdToken } })).status).toBe(200);
      expect(await (await fetch(`${a!.url}/metrics`)).text()).toMatch(/^tessera_redis_up\{app="app-1"\} 0$/m);
    } finally {
      await startRedis(stack.redis);
    }
    expect(await eventually(async () => (await call('GET', '/readyz', { base: a!.url })).body.redis === 'up', 15_000)).toBe(true);
    const fresh = await createUser({}, a!.url);
    await call('GET', `/v1/users/${fresh.body.id}`, { base: a!.url });
    const redis = new Redis(stack.redis.url);
    try {
      // The fill runs off the response path: it lands a moment after the read's answer.
      expect(await eventually(async () => /^0:1:d\|/.test((await redis.get(`tessera:u:${fresh.body.id}`)) ?? ''), 5000, 20)).toBe(true);
      expect((await inspectCache(a!.url, `u:${fresh.body.id}`)).l2).toMatchObject({ kind: 'data', v: 1 });
    } finally {
      redis.disconnect();
    }
  });

  it('a replica killed: reads keep succeeding from the primary; restarted, it rejoins the rotation', async () => {
    const stack = testStack();
    const shard = stack.shards[0]!;
    const replica = shard.replicas[0]!;
    const ctx = await pgContextFor(stack);
    // Users on this shard, so that their misses would go to its replica.
    const mine: string[] = [];
    while (mine.length < 20) {
      const u = await createUser();
      if (u.headers.get('x-tessera-shard') === shard.name) mine.push(u.body.id);
    }
    await stopInstance(ctx, replica, 'immediate');
    try {
      const sources = new Set<string>();
      for (const id of mine) {
        // Through a token-free GET that misses L1 (the creating app may hold it): vary the app.
        for (const app of apps()) {
          const res = await call('GET', `/v1/users/${id}`, { base: app.url });
          expect(res.status).toBe(200);
          if (res.headers.get('x-tessera-source')) sources.add(res.headers.get('x-tessera-source')!);
        }
      }
      expect([...sources]).toContain('primary');
      expect([...sources]).not.toContain('replica');
    } finally {
      await startInstance(ctx, replica);
    }
    // Rejoined: once its lag probe succeeds, misses are served by the replica again.
    const rejoined = await eventually(async () => {
      const u = await createUser();
      if (u.headers.get('x-tessera-shard') !== shard.name) return false;
      await withDb(replica.url, (c) => c.query('SELECT 1'));
      await new Promise((r) => setTimeout(r, 300));
      const res = await call('GET', `/v1/users/${u.body.id}`, { base: apps()[1]!.url });
      return res.headers.get('x-tessera-source') === 'replica';
    }, 30_000, 200);
    expect(rejoined).toBe(true);
  });
});
