/**
 * A shard whose primary container is down, through the compose stack's NGINX:
 * only that shard's keys fail. NGINX must not count an app's "shard
 * unavailable" 503 as a failed upstream (nginx/compose.conf retries on
 * `error timeout` only), or one shard's outage would take every app out of
 * its rotation and fail every shard's requests.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call } from './support/http.js';
import { composeContext, containersOf, docker, waitFor, waitHealthy } from './support/compose.js';

let base: string;

beforeAll(async () => {
  base = composeContext().baseUrl;
  await waitHealthy('app', composeContext().apps);
});

/**
 * Runs `clients` loops of `step` until `count` results are in (bounded by
 * `timeoutMs`, which fails the test); every result.
 */
async function collect<T>(count: number, clients: number, timeoutMs: number, step: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  const deadline = Date.now() + timeoutMs;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (out.length < count && Date.now() < deadline) out.push(await step());
  }));
  if (out.length < count) throw new Error(`only ${out.length} of ${count} requests done in ${timeoutMs / 1000} s`);
  return out;
}

describe('a shard whose primary container is down', () => {
  it('through NGINX fails only its own keys: with reads that need it running, every read and write of the other shard succeeds', async () => {
    const onDown: string[] = [];
    const onUp: string[] = [];
    while (onDown.length < 5 || onUp.length < 5) {
      const r = await call<{ id: string }>('POST', '/v1/users', { base, body: { email: `down-${Math.random().toString(36).slice(2)}@example.com`, name: 'Down' } });
      expect(r.status).toBe(201);
      (r.headers.get('x-tessera-shard') === 'shard-b' ? onDown : onUp).push(r.body.id);
    }
    const pick = (ids: string[]) => ids[Math.floor(Math.random() * ids.length)]!;
    // A token no replica has replayed: such a read needs the primary.
    const needsPrimary = { 'x-tessera-consistency': 'shard-b@FFFFFFF/FFFFFFFF' };
    const [victim] = containersOf('shard-b');
    docker(['kill', victim!]);
    try {
      expect(docker(['inspect', '--format', '{{.State.Status}}', victim!]).trim()).toBe('exited');
      const [deadShard, otherShard] = await Promise.all([
        collect(150, 3, 60_000, async () => (await call('GET', `/v1/users/${pick(onDown)}`, { base, headers: needsPrimary })).status),
        collect(150, 3, 60_000, async () => {
          const id = pick(onUp);
          const write = await call('PATCH', `/v1/users/${id}`, { base, body: { name: `up ${Date.now()}` } });
          const read = await call('GET', `/v1/users/${id}`, { base });
          return `${write.status}/${read.status}`;
        }),
      ]);
      expect(new Set(deadShard)).toEqual(new Set([503]));
      expect(otherShard.filter((s) => s !== '200/200')).toEqual([]);
      // Reads without a token are served by the dead primary's replica.
      for (const id of onDown) expect((await call('GET', `/v1/users/${id}`, { base })).status).toBe(200);
    } finally {
      docker(['start', victim!]);
    }
    await waitHealthy('shard-b', 1);
    // Every app writes to shard-b again (each has its own pools and breaker; NGINX spreads the PATCHes over them).
    await waitFor('20 PATCHes in a row to shard-b through NGINX', 60_000, async () => {
      for (let i = 0; i < 20; i++) {
        if ((await call('PATCH', `/v1/users/${onDown[i % onDown.length]!}`, { base, body: { name: 'back' } })).status !== 200) return undefined;
      }
      return true;
    }, 500);
  });
});
