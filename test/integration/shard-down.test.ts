import { describe, expect, it } from 'vitest';
import { pgContextFor, startInstance, stopInstance } from '../../src/cluster/index.js';
import { eventually } from '../support/cache.js';
import { call, createUser } from '../support/http.js';
import { testStack } from '../support/stack.js';

/** Runs `loop` in `clients` concurrent loops for `ms`; collects what each iteration returns. */
async function during<T>(ms: number, clients: number, loop: () => Promise<T>): Promise<T[]> {
  const until = Date.now() + ms;
  const out: T[] = [];
  await Promise.all(Array.from({ length: clients }, async () => {
    while (Date.now() < until) out.push(await loop());
  }));
  return out;
}

/**
 * Whether every app replica writes to `id`'s shard again (each has its own
 * pools and breaker, and NGINX may send the next test's requests to any).
 */
async function everyAppServes(id: string): Promise<boolean> {
  const ok = async (base: string) => (await call('PATCH', `/v1/users/${id}`, { body: { name: 'back' }, base })).status === 200;
  return eventually(async () => (await Promise.all(testStack().apps.map((a) => ok(a.url)))).every(Boolean), 20_000, 250);
}

describe('a shard that is down', () => {
  it('fails fast with 503 and Retry-After for the keys it owns, while the other shard keeps serving', async () => {
    const stack = testStack();
    const down = stack.shards[0]!;
    const onDown: string[] = [];
    const onUp: string[] = [];
    while (onDown.length < 3 || onUp.length < 3) {
      const u = await createUser();
      (u.headers.get('x-tessera-shard') === down.name ? onDown : onUp).push(u.body.id);
    }
    const ctx = await pgContextFor(stack);
    // The replica goes too, or reads would (rightly) keep being served from it.
    for (const r of down.replicas) await stopInstance(ctx, r, 'immediate');
    await stopInstance(ctx, down.primary, 'immediate');
    try {
      for (const id of onUp) {
        expect((await call('PATCH', `/v1/users/${id}`, { body: { name: 'still served' } })).status).toBe(200);
        expect((await call('GET', `/v1/users/${id}`)).status).toBe(200);
      }
      for (const id of onDown) {
        const started = Date.now();
        const res = await call('PATCH', `/v1/users/${id}`, { body: { name: 'unreachable' } });
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('TESSERA_ERR_SHARD_UNAVAILABLE');
        expect(res.headers.get('retry-after')).toBe('1');
        expect(res.headers.get('x-tessera-shard')).toBe(down.name);
        // Bounded by the shard timeout, never a hang (a generous bound: this is not a benchmark).
        expect(Date.now() - started).toBeLessThan(15_000);
      }
      const ready = await call('GET', '/readyz', { base: stack.apps[0]!.url });
      expect(ready.status).toBe(503);
    } finally {
      await startInstance(ctx, down.primary);
      for (const r of down.replicas) await startInstance(ctx, r);
    }
    expect(await everyAppServes(onDown[0]!)).toBe(true);
  });

  it('through NGINX, a dead primary fails only its own keys: with reads that need it running, every read and write of the other shard succeeds', async () => {
    const stack = testStack();
    const down = stack.shards[0]!;
    const onDown: string[] = [];
    const onUp: string[] = [];
    while (onDown.length < 5 || onUp.length < 5) {
      const u = await createUser();
      (u.headers.get('x-tessera-shard') === down.name ? onDown : onUp).push(u.body.id);
    }
    const pick = (ids: string[]) => ids[Math.floor(Math.random() * ids.length)]!;
    // A token no replica has replayed: such a read must go to the primary.
    const needsPrimary = { 'x-tessera-consistency': `${down.name}@FFFFFFF/FFFFFFFF` };
    const ctx = await pgContextFor(stack);
    // Only the primary: its replica keeps serving token-free reads.
    await stopInstance(ctx, down.primary, 'immediate');
    try {
      const [deadShard, otherShard] = await Promise.all([
        during(4000, 3, async () => (await call('GET', `/v1/users/${pick(onDown)}`, { headers: needsPrimary })).status),
        during(4000, 3, async () => {
          const id = pick(onUp);
          const write = await call('PATCH', `/v1/users/${id}`, { body: { name: `up ${Date.now()}` } });
          const read = await call('GET', `/v1/users/${id}`);
          return `${write.status}/${read.status}`;
        }),
      ]);
      expect(deadShard.length).toBeGreaterThan(10);
      expect(new Set(deadShard)).toEqual(new Set([503]));
      expect(otherShard.length).toBeGreaterThan(10);
      expect(otherShard.filter((s) => s !== '200/200')).toEqual([]);
      // Token-free reads of the dead primary's users are served by its replica.
      for (const id of onDown) expect((await call('GET', `/v1/users/${id}`)).status).toBe(200);
    } finally {
      await startInstance(ctx, down.primary);
    }
    expect(await everyAppServes(onDown[0]!)).toBe(true);
  });
});
