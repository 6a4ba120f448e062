import type { FastifyBaseLogger } from 'fastify';
import type { ApiDeps } from './api/app.js';
import { authFromConfig } from './auth/from-config.js';
import { InvalidationBus } from './cache/invalidation.js';
import { L1 } from './cache/l1.js';
import { L2 } from './cache/l2.js';
import { TieredCache } from './cache/tiered.js';
import { MapFollower } from './catalog/follower.js';
import { CatalogStore } from './catalog/store.js';
import type { Config } from './config/env.js';
import { ShardPools } from './db/pools.js';
import { RoutedDb } from './db/routed.js';
import { createMetrics } from './observability/metrics.js';
import { catalogGauges, poolGauges, shardOpCounter, shardProbe } from './observability/scrape-collectors.js';
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
  cache: TieredCache;
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
    {
      size: config.TESSERA_PG_POOL_SIZE,
      timeoutMs: config.TESSERA_SHARD_TIMEOUT_MS,
      applicationName: `tessera-${config.TESSERA_APP_ID}`,
      maxReplicaLagMs: config.TESSERA_REPLICA_MAX_LAG_MS,
      replicaPollMs: config.TESSERA_REPLICA_POLL_MS,
    },
    log,
    shardOpCounter(metrics),
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
  const l1 = new L1({
    maxEntries: config.TESSERA_L1_MAX_ENTRIES,
    maxBytes: config.TESSERA_L1_MAX_BYTES,
    ttlMs: config.TESSERA_L1_TTL_MS,
    negativeTtlMs: config.TESSERA_NEGATIVE_TTL_MS,
    jitter: config.TESSERA_TTL_JITTER,
    // Longer than any replica may lag and serve, so a late stale fill always meets its floor.
    floorTtlMs: Math.max(10_000, 10 * config.TESSERA_REPLICA_MAX_LAG_MS),
  });
  const l2 = new L2(
    {
      url: config.TESSERA_REDIS_URL,
      timeoutMs: config.TESSERA_REDIS_TIMEOUT_MS,
      ttlMs: config.TESSERA_L2_TTL_MS,
      negativeTtlMs: config.TESSERA_NEGATIVE_TTL_MS,
      jitter: config.TESSERA_TTL_JITTER,
      prefix: 'tessera:',
    },
    log,
    (up) => metrics.redisUp.set(up ? 1 : 0),
  );
  const auth = authFromConfig(config, l2.redis, log);
  const cache = new TieredCache(l1, l2, undefined, metrics);
  const bus = new InvalidationBus(config.TESSERA_REDIS_URL, 'tessera:invalidations', log, {
    onMessage: (m) => cache.applyRemote(m.key, m),
    // Messages may have been missed while disconnected; L1 entries are cheap to refill.
    onResync: () => l1.clear(),
  });
  cache.attachBus(bus);
  metrics.replicaMaxLagSeconds.set(config.TESSERA_REPLICA_MAX_LAG_MS / 1000);
  metrics.beforeScrape.push(() => metrics.l1Entries.set(l1.size), poolGauges(pools, metrics));
  metrics.beforeScrapeAsync.push(shardProbe(pools, router, metrics), catalogGauges(store, metrics));

  const emails = new EmailClaims(router, db);
  const users = new UserService(router, db, emails, cache);
  const documents = new DocumentService(router, db, cache);

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
      const replicas = Object.fromEntries(
        pools.names().map((shard) => [
          shard,
          pools.replicaStatuses(shard).map((r) => ({ name: r.name, reachable: r.reachable, lagMs: Number.isFinite(r.lagMs) ? r.lagMs : null, lagBytes: r.lagBytes })),
        ]),
      );
      // Redis down degrades to L1 + database: reported, but never a reason to be unready.
      const redis = l2.up ? 'up' : 'down (degraded: L1 + database)';
      return { ready, detail: { appId: config.TESSERA_APP_ID, mapVersion: router.map.version, strategy: router.map.strategy, catalog, shards, replicas, redis, l1Entries: l1.size } };
    },
  };

  return {
    router,
    pools,
    cache,
    follower,
    store,
    api: {
      users,
      documents,
      probe,
      metrics,
      limits: { maxDocBytes: config.TESSERA_MAX_DOC_BYTES, maxProfileBytes: config.TESSERA_MAX_PROFILE_BYTES },
      auth: auth.options,
      trustProxy: config.TESSERA_TRUST_PROXY,
      ...(config.TESSERA_DEBUG_ENDPOINTS && {
        debugCache: async (key: string) => {
          const strip = (e: { kind: string; e: number; v: number } | undefined) => e && { kind: e.kind, e: e.e, v: e.v };
          return { appId: config.TESSERA_APP_ID, l1: strip(l1.get(key)) ?? null, l2: strip(await l2.get(key)) ?? null, redis: l2.up };
        },
      }),
    },
    startDraining() {
      draining = true;
    },
    async close() {
      await auth.close();
      await bus.close();
      await l2.close();
      await follower.close();
      await pools.close();
      await store.close();
    },
  };
}
