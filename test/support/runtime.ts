import { pino } from 'pino';
import { CatalogStore } from '../../src/catalog/store.js';
import { ShardPools } from '../../src/db/pools.js';
import { RoutedDb } from '../../src/db/routed.js';
import { getStrategy } from '../../src/routing/registry.js';
import { Router } from '../../src/routing/router.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { loadHasher } from '../../src/routing/strategies/hash.js';
import { EmailClaims } from '../../src/users/email-claims.js';

/**
 * The service's own routing and database layer, in the test process, wired to
 * a running stack's catalog: for tests that inject failures between steps.
 */
export async function inProcess(catalogUrl: string) {
  const catalog = new CatalogStore(catalogUrl);
  const record = (await catalog.latestMap())!;
  const router = new Router(await getStrategy(record.strategy), await loadHasher(), ShardMap.fromRecord(record));
  const pools = new ShardPools({ size: 4, timeoutMs: 3000, applicationName: 'tessera-test', maxReplicaLagMs: 1000, replicaPollMs: 60_000 }, pino({ level: 'silent' }));
  pools.sync(await catalog.shards());
  const db = new RoutedDb(router, pools, async () => {
    router.useMap(ShardMap.fromRecord((await catalog.latestMap())!));
  });
  return {
    router,
    pools,
    db,
    emails: new EmailClaims(router, db),
    async close() {
      await pools.close();
      await catalog.close();
    },
  };
}
