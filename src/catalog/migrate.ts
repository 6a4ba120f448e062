import pg from 'pg';
import { applyMigrations, MIGRATION_DIRS } from '../db/migrations.js';
import { claimRanges, ownedRanges } from '../db/fence.js';
import { parseKeyRange } from '../routing/keyrange.js';
import { ShardMap } from '../routing/shard-map.js';
import { strategyNames } from '../routing/registry.js';
import { CatalogStore } from './store.js';
import type { TopologySeed } from './topology.js';

/** Options for {@link migrate}. */
export interface MigrateOptions {
  /** Connection string of the catalog database. */
  catalogUrl: string;
  /** Seeds the catalog when it holds no shard map yet; ignored otherwise. */
  seed?: TopologySeed;
  /** Progress lines for a human. */
  log?: (line: string) => void;
}

/** Checks a seed before anything is written: known strategy, valid ranges tiling the keyspace. */
export function validateSeed(seed: TopologySeed): ShardMap {
  if (!strategyNames().includes(seed.strategy)) throw new Error(`topology: unknown strategy "${seed.strategy}"`);
  const names = new Set<string>();
  for (const s of seed.shards) {
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(s.name)) throw new Error(`topology: invalid shard name "${s.name}"`);
    if (names.has(s.name)) throw new Error(`topology: shard "${s.name}" listed twice`);
    names.add(s.name);
  }
  return new ShardMap(
    1,
    seed.keyspace,
    seed.strategy,
    seed.shards.flatMap((s) => s.ranges.map((r) => ({ range: parseKeyRange(r), shard: s.name }))),
  );
}

/**
 * Applies catalog migrations, seeds the shard map (version 1) when the catalog
 * has none, then applies shard migrations to every shard primary the catalog
 * knows and records on each the ranges it owns. Idempotent: running it again
 * changes nothing.
 */
export async function migrate(opts: MigrateOptions): Promise<{ mapVersion: number }> {
  const log = opts.log ?? (() => undefined);
  const seedMap = opts.seed && validateSeed(opts.seed);

  const catalogClient = new pg.Client({ connectionString: opts.catalogUrl, application_name: 'tessera-migrate' });
  await catalogClient.connect();
  try {
    const applied = await applyMigrations(catalogClient, MIGRATION_DIRS.catalog);
    log(`catalog: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}`);
  } finally {
    await catalogClient.end();
  }

  const store = new CatalogStore(opts.catalogUrl, { applicationName: 'tessera-migrate' });
  try {
    if (opts.seed && seedMap) {
      // A shard the catalog knows keeps its endpoints: after a failover the catalog says where its primary is, not the seed.
      for (const s of opts.seed.shards) await store.addShard({ name: s.name, primaryUrl: s.primary, replicaUrls: s.replicas, ...(s.durability && { durability: s.durability }) });
      if (!(await store.latestMap())) {
        await store.publishMap(seedMap.toRecord(), 0, 'seed');
        log(`catalog: seeded shard map v1 (${opts.seed.strategy}, ${opts.seed.shards.length} shards)`);
      }
    }
    const record = await store.latestMap();
    if (!record) throw new Error('the catalog has no shard map: pass a topology seed (shards/*.json)');
    const map = ShardMap.fromRecord(record);

    for (const shard of await store.shards()) {
      const client = new pg.Client({ connectionString: shard.primaryUrl, application_name: 'tessera-migrate' });
      await client.connect();
      try {
        const applied = await applyMigrations(client, MIGRATION_DIRS.shard);
        // Ownership is recorded only on a shard that records none: after a
        // reshard the shard's own table is the truth, not the seed.
        if ((await ownedRanges(client)).length === 0) await claimRanges(client, map.rangesOf(shard.name));
        log(`${shard.name}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}`);
      } finally {
        await client.end();
      }
    }
    return { mapVersion: map.version };
  } finally {
    await store.close();
  }
}
