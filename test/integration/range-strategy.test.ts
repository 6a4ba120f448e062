import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, readStack, up } from '../../src/cluster/index.js';
import type { StackInfo } from '../../src/cluster/index.js';
import { parseKeyRange } from '../../src/routing/keyrange.js';
import { getStrategy } from '../../src/routing/registry.js';
import { call, uniqueEmail } from '../support/http.js';
import { withDb } from '../support/stack.js';
import { testPorts } from '../support/ports.js';
import { serviceAuthHeaders } from '../support/auth.js';

// A small stack of its own: 2 range-sharded shards, no replicas, one app.
const dir = resolve('.tessera-test/range');

describe('range strategy', () => {
  let stack: StackInfo;
  beforeAll(async () => {
    await up({ dir, shards: 2, replicas: 0, apps: 1, strategy: 'range', ...testPorts({ port: 18180, pgBasePort: 25520, redisPort: 16490, appBasePort: 13201 }), appEnv: { TESSERA_LOG_LEVEL: 'warn' }, log: () => undefined });
    stack = readStack(dir);
  });
  afterAll(async () => {
    await down({ dir, purge: true, log: () => undefined });
  });

  it('users land on the shard whose range holds their ksid (the top 64 bits of the UUIDv7)', async () => {
    const strategy = await getStrategy('range');
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await call('POST', '/v1/users', { base: stack.nginx.url, headers: await serviceAuthHeaders(dir), body: { email: uniqueEmail('range'), name: `r${i}` } });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
      const owner = stack.shards.find((s) => s.ranges.some((r) => {
        const range = parseKeyRange(r);
        const k = strategy.ksidOf(res.body.id);
        return k >= range.lo && k < range.hi;
      }))!;
      expect(res.headers.get('x-tessera-shard')).toBe(owner.name);
    }
    // Time-ordered ids: creation order is ksid order.
    const ksids = ids.map((id) => strategy.ksidOf(id));
    expect([...ksids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ksids);
    let found = 0;
    for (const shard of stack.shards) {
      const rows = await withDb(shard.primary.url, (c) => c.query<{ id: string }>('SELECT id FROM users WHERE id = ANY($1)', [ids]));
      for (const row of rows.rows) {
        const k = strategy.ksidOf(row.id);
        expect(shard.ranges.some((r) => k >= parseKeyRange(r).lo && k < parseKeyRange(r).hi)).toBe(true);
      }
      found += rows.rowCount ?? 0;
    }
    expect(found).toBe(ids.length);
    expect((await call('GET', '/readyz', { base: stack.apps[0]!.url })).body.strategy).toBe('range');
  });
});
