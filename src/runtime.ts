import type { FastifyBaseLogger } from 'fastify';
import type { ApiDeps } from './api/app.js';
import { MapFollower } from './catalog/follower.js';
import { CatalogStore } from './catalog/store.js';
import type { Config } from './config/env.js';
import { ShardPools } from './db/pools.js';
import { RoutedDb } from './db/routed.js';
import { createMetrics } from './observability/metrics.js';
import { getStrategy } from './routing/registry.js';
import { Router } from './routing/router.js';
import { ShardMap } from './routing/shard-map.js';
import type { ShardMapRecord } from './routing/shard-map.js';
import { loadHasher } from './routing/strategies/hash.js';
import { DocumentService } from './users/document-service.js';
import { EmailClaims } from './users/email-claims.js';
import { UserService } from './users/user-service.js';

/** Everything one app replica runs besides HTTP, built and closed in one place. */
export interface Runtime {
  router: Router;
  pools: ShardPools;
  follower: MapFollower;
  store: CatalogStore;
  api: Omit<ApiDeps, 'logger'>;
  /** Marks the replica as draining: /readyz answers 503 so balancers stop sending. */
  startDraining(): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the catalog to hold a shard map: in compose the app may start before migrations finish. */
async function waitForMap(store: CatalogStore, log: FastifyBaseLogger, timeoutMs = 60_000): Promise<ShardMapRecord> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 200; ; pause = Math.min(pause * 2, 2000)) {
    try {
      const rec = await store.latestMap();
      if (rec) return rec;
      log.warn('catalog has no shard map yet (run `tessera migrate`); waiting');
    } catch (err) {
      if (Date.now() > deadline) throw err;
      log.warn({ err }, 'catalog not reachable yet; waiting');
    }
    if (Date.now() > deadline) throw new Error('no shard map in the catalog; run `tessera migrate` with a topology seed');
    await sleep(pause);
  }
}

/** Builds the runtime of one app replica from its configuration. */
export async function createRuntime(config: Config, log: FastifyBaseLogger): Promise<Runtime> {
  const metrics = createMetrics(config.TESSERA_APP_ID);
  const store = new CatalogStore(config.TESSERA_CATALOG_URL, { applicationName: `tessera-${config.TESSERA_APP_ID}` });
  const record = await waitForMap(store, log);
  const hash = await loadHasher();
  const router = new Router(await getStrategy(record.strategy), hash, ShardMap.fromRecord(record));
  const pools = new ShardPools(
    { size: config.TESSERA_PG_POOL_SIZE, timeoutMs: config.TESSERA_SHARD_TIMEOUT_MS, applicationName: `tessera-${config.TESSERA_APP_ID}` },
    log,
  );
  pools.sync(await store.shards());
  metrics.mapVersion.set(router.map.version);

  const follower = new MapFollower(store, router, pools, {
    appId: config.TESSERA_APP_ID,
    pollMs: config.TESSERA_MAP_POLL_MS,
    log,
    onChange: (v) => metrics.mapVersion.set(v),
  });
  await follower.start();

  const db = new RoutedDb(router, pools, () => follower.reload(), {
    fenceWaitMs: 5000,
    onWrongShard: (shard) => metrics.wrongShard.inc({ shard }),
  });
  const emails = new EmailClaims(router, db);
  const users = new UserService(router, db, emails);
  const documents = new DocumentService(router, db);

  let draining = false;
  const probe = {
    draining: () => draining,
    async check() {
      const shards: Record<string, string> = {};
      let ready = true;
      const catalog = await store.pool.query('SELECT 1').then(
        () => 'up',
        () => 'down',
      );
      if (catalog === 'down') ready = false;
      await Promise.all(
        router.map.shards().map(async (name) => {
          const up = await pools.query(name, 'SELECT 1').then(
            () => true,
            () => false,
          );
          metrics.shardUp.set({ shard: name }, up ? 1 : 0);
          shards[name] = up ? 'up' : `down (breaker ${pools.breakerState(name)})`;
          if (!up) ready = false;
        }),
      );
      return { ready, detail: { appId: config.TESSERA_APP_ID, mapVersion: router.map.version, strategy: router.map.strategy, catalog, shards } };
    },
  };

  return {
    router,
    pools,
    follower,
    store,
    api: {
      users,
      documents,
      probe,
      metrics,
      limits: { maxDocBytes: config.TESSERA_MAX_DOC_BYTES, maxProfileBytes: config.TESSERA_MAX_PROFILE_BYTES },
    },
    startDraining() {
      draining = true;
    },
    async close() {
      await follower.close();
      await pools.close();
      await store.close();
    },
  };
}
