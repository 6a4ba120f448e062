import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { CatalogStore } from '../../src/catalog/store.js';
import { ShardPools } from '../../src/db/pools.js';
import { RoutedDb } from '../../src/db/routed.js';
import { ksidToSql } from '../../src/routing/keyrange.js';
import { getStrategy } from '../../src/routing/registry.js';
import { Router } from '../../src/routing/router.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { loadHasher } from '../../src/routing/strategies/hash.js';
import { insertUser } from '../../src/users/users-sql.js';
import { formatToken } from '../../src/db/lsn.js';
import { call } from '../support/http.js';
import { testStack, withDb } from '../support/stack.js';

const silent = pino({ level: 'silent' });

describe('shard fences', () => {
  it('a shard refuses, inside the transaction, a write for a key it does not own (SQLSTATE TS001)', async () => {
    const stack = testStack();
    const strategy = await getStrategy(stack.strategy);
    const [a, b] = stack.shards;
    // Find an id that shard b owns, then write it to shard a directly.
    let id = uuidv7();
    const map = ShardMap.fromRecord({ version: 1, keyspace: 'x', strategy: stack.strategy, ranges: stack.shards.flatMap((s) => s.ranges.map((range) => ({ range, shard: s.name }))) });
    while (map.entryFor(strategy.ksidOf(id)).shard !== b!.name) id = uuidv7();
    const err = await withDb(a!.primary.url, (c) =>
      c.query('INSERT INTO users (ksid, id, email, name) VALUES ($1, $2, $3, $4)', [ksidToSql(strategy.ksidOf(id)), id, `${id}@fence.test`, 'x']).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(err).toMatchObject({ code: 'TS001' });
    const rows = await withDb(a!.primary.url, (c) => c.query('SELECT 1 FROM users WHERE id = $1', [id]));
    expect(rows.rowCount).toBe(0);
  });

  it('a write routed with a stale map is refused by the shard; the router reloads the map and the write succeeds on the owner', async () => {
    const stack = testStack();
    const hash = await loadHasher();
    const strategy = await getStrategy(stack.strategy);
    const catalog = new CatalogStore(stack.catalog.url);
    const current = ShardMap.fromRecord((await catalog.latestMap())!);
    // A stale map: the same ranges with owners swapped, and an older version.
    const names = current.shards();
    const stale = new ShardMap(0, current.keyspace, current.strategy, current.entries.map((e) => ({ range: e.range, shard: names[(names.indexOf(e.shard) + 1) % names.length]! })));
    const router = new Router(strategy, hash, stale);
    const pools = new ShardPools({ size: 2, timeoutMs: 2000, applicationName: 'fence-test', maxReplicaLagMs: 1000, replicaPollMs: 60_000 }, silent);
    pools.sync(await catalog.shards());
    let reloads = 0;
    let refusals = 0;
    const db = new RoutedDb(
      router,
      pools,
      async () => {
        reloads++;
        router.useMap(ShardMap.fromRecord((await catalog.latestMap())!));
      },
      { fenceWaitMs: 5000, onWrongShard: () => refusals++ },
    );
    try {
      const id = uuidv7();
      const ksid = strategy.ksidOf(id);
      const staleOwner = stale.entryFor(ksid).shard;
      const written = await db.tx(ksid, ({ client }) => insertUser(client, { ksid, id, email: `${id}@fence.test`, name: 'Fenced', profile: {} }));
      expect(refusals).toBe(1);
      expect(reloads).toBe(1);
      expect(written.shard).toBe(current.entryFor(ksid).shard);
      expect(written.shard).not.toBe(staleOwner);
      // The app replicas see the row on its owner (read with the write's token: a replica may not have replayed it yet).
      const got = await call('GET', `/v1/users/${id}`, { headers: { 'x-tessera-consistency': formatToken({ shard: written.shard, lsn: written.lsn }) } });
      expect(got.status).toBe(200);
      expect(got.headers.get('x-tessera-shard')).toBe(written.shard);
    } finally {
      await pools.close();
      await catalog.close();
    }
  });

  it('every app replica follows a newly published map version within a second', async () => {
    const stack = testStack();
    const catalog = new CatalogStore(stack.catalog.url);
    try {
      const current = (await catalog.latestMap())!;
      const next = await catalog.publishMap(current, current.version, 'test: same ranges, new version');
      const deadline = Date.now() + 1000;
      const seen = new Map<string, number>();
      while (Date.now() < deadline && [...seen.values()].filter((v) => v === next).length < stack.apps.length) {
        for (const app of stack.apps) seen.set(app.id, (await call('GET', '/readyz', { base: app.url })).body.mapVersion);
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const app of stack.apps) expect(seen.get(app.id), app.id).toBe(next);
      const replicas = await catalog.liveReplicas(10_000);
      for (const app of stack.apps) expect(replicas.find((r) => r.appId === app.id)?.mapVersion).toBe(next);
    } finally {
      await catalog.close();
    }
  });
});
