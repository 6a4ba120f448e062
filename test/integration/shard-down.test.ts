import { describe, expect, it } from 'vitest';
import { pgContextFor, startInstance, stopInstance } from '../../src/cluster/index.js';
import { eventually } from '../support/cache.js';
import { call, createUser } from '../support/http.js';
import { testStack } from '../support/stack.js';

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
    expect(await eventually(async () => (await call('PATCH', `/v1/users/${onDown[0]}`, { body: { name: 'back' } })).status === 200, 20_000, 250)).toBe(true);
  });
});
