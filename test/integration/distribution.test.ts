import { describe, expect, it } from 'vitest';
import { parseKeyRange, ksidToSql } from '../../src/routing/keyrange.js';
import { getStrategy } from '../../src/routing/registry.js';
import { call, uniqueEmail } from '../support/http.js';
import { testStack, withDb } from '../support/stack.js';

describe('distribution over the default 2-shard hash topology', () => {
  it('1,000 created users land on both shards, each exactly once, on the shard that owns its ksid', async () => {
    const stack = testStack();
    const strategy = await getStrategy(stack.strategy);
    const ids: string[] = [];
    // Bounded concurrency: 20 clients at a time, as a real client fleet would.
    for (let batch = 0; batch < 50; batch++) {
      const created = await Promise.all(
        Array.from({ length: 20 }, () => call('POST', '/v1/users', { body: { email: uniqueEmail('dist'), name: 'Distributed' } })),
      );
      for (const res of created) {
        expect(res.status).toBe(201);
        ids.push(res.body.id);
      }
    }

    const where = new Map<string, string[]>();
    for (const shard of stack.shards) {
      const rows = await withDb(shard.primary.url, (c) => c.query<{ id: string; ksid: string }>('SELECT id, ksid::text FROM users WHERE id = ANY($1)', [ids]));
      for (const row of rows.rows) {
        where.set(row.id, [...(where.get(row.id) ?? []), shard.name]);
        // The stored ksid is the strategy's, and the shard's range holds it.
        expect(row.ksid).toBe(ksidToSql(strategy.ksidOf(row.id)));
        const owns = shard.ranges.some((r) => {
          const range = parseKeyRange(r);
          const k = strategy.ksidOf(row.id);
          return k >= range.lo && k < range.hi;
        });
        expect(owns, `${row.id} on ${shard.name}`).toBe(true);
      }
    }
    expect(where.size).toBe(1000);
    for (const [, shards] of where) expect(shards).toHaveLength(1);
    const counts = stack.shards.map((s) => [...where.values()].filter((w) => w[0] === s.name).length);
    console.log(`distribution: ${stack.shards.map((s, i) => `${s.name}=${counts[i]}`).join(', ')}`);
    for (const n of counts) {
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThanOrEqual(600);
    }
  });
});
