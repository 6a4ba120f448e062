/**
 * `tessera shard add`: a new, empty shard (primary + streaming replicas) in a
 * running local stack. It is registered in the catalog and given the shard
 * schema, and owns no range: `tessera reshard` gives it some. The apps pick
 * up its endpoints from the catalog on their next map reload.
 */
import { CatalogStore } from '../catalog/store.js';
import { applyDurability } from '../failover/durability.js';
import { applyMigrations, MIGRATION_DIRS } from '../db/migrations.js';
import { planShard } from './layout.js';
import { withStackLock } from './lock.js';
import { ensureDatabase, initInstance, startInstance, withClient } from './pg-instance.js';
import { cloneReplica, ensureReplicationSlot, waitStreaming } from './pg-replication.js';
import { pgContextFor } from './pg-stack.js';
import { assertPortsFree } from './ports.js';
import { stderrSink, step, type ProgressSink } from './progress.js';
import { readStack, writeStack, type ShardInfo } from './stack-file.js';

/** Options of {@link addShard}. */
export interface AddShardOptions {
  /** Stack folder. @default `.tessera` */
  dir?: string;
  /** Streaming replicas of the new primary. @default as many as the first shard has */
  replicas?: number;
  /** @default stderr */
  log?: ProgressSink;
}

/** Creates, starts, registers and migrates a new empty shard; returns it. */
export async function addShard(opts: AddShardOptions = {}): Promise<ShardInfo> {
  const dir = opts.dir ?? '.tessera';
  const log = opts.log ?? stderrSink;
  return withStackLock(dir, async () => {
    const info = readStack(dir);
    if (info.state !== 'up') throw new Error(`the stack in ${info.dir} is not up`);
    const ctx = await pgContextFor(info);
    const shard = planShard(info, opts.replicas ?? info.shards[0]?.replicas.length ?? 0);
    const instances = [shard.primary, ...shard.replicas];
    await assertPortsFree(instances.map((i) => ({ port: i.port, role: `PostgreSQL ${i.name}` })));
    // Recorded first, so that `down` stops whatever of it gets started.
    info.shards.push(shard);
    await writeStack(info);
    await step(log, `initdb ${shard.primary.name}`, () => initInstance(ctx, shard.primary));
    for (const r of shard.replicas) await step(log, `cloning ${shard.primary.name} into ${r.name}`, () => cloneReplica(ctx, shard.primary, r));
    shard.primary.pid = await step(log, `starting ${shard.primary.name} on :${shard.primary.port}`, () => startInstance(ctx, shard.primary));
    await writeStack(info);
    for (const r of shard.replicas) await ensureReplicationSlot(shard.primary.url, r.slot);
    await ensureDatabase(shard.primary);
    for (const r of shard.replicas) {
      r.pid = await step(log, `starting ${r.name} on :${r.port}`, () => startInstance(ctx, r));
      await writeStack(info);
    }
    if (shard.replicas.length > 0) await step(log, `checking ${shard.name} replication`, () => waitStreaming(shard.primary, shard.replicas, { caughtUp: true }));
    await step(log, `migrating ${shard.name}`, () => withClient(shard.primary.url, (c) => applyMigrations(c, MIGRATION_DIRS.shard), 60_000));
    const store = new CatalogStore(info.catalog.url, { applicationName: 'tessera-shard-add' });
    try {
      await store.addShard({ name: shard.name, primaryUrl: shard.primary.url, replicaUrls: shard.replicas.map((r) => r.url), durability: info.durability ?? 'sync' });
      await applyDurability(store, shard.name, shard.replicas);
    } finally {
      await store.close();
    }
    log(`${shard.name} registered in the catalog; it owns no range yet (give it some with \`tessera reshard plan --add-shard ${shard.name} --apply\`)`);
    return shard;
  });
}
