/**
 * Every PostgreSQL instance of a stack at once: the catalog, and per shard a
 * primary with its streaming replicas. Create, start (again) and stop.
 */
import { binariesAt } from './pg-binaries.js';
import { ensureDatabase, initInstance, runningPgPid, startInstance, stopInstance, type PgContext } from './pg-instance.js';
import { cloneReplica, ensureReplicationSlot, waitStreaming } from './pg-replication.js';
import { step, type ProgressSink } from './progress.js';
import { isRoot, lookupUser } from './service-user.js';
import { pgInstances, type StackInfo } from './stack-file.js';

/** The pg context a stack was created with (its OS user and binaries), for restarting and stopping it. */
export async function pgContextFor(info: StackInfo): Promise<PgContext> {
  let as = null;
  if (info.runtime.pgOsUser) {
    if (!isRoot()) throw new Error(`this stack's PostgreSQL runs as ${info.runtime.pgOsUser}, set up by root: run this command as root`);
    as = await lookupUser(info.runtime.pgOsUser);
    if (!as) throw new Error(`OS user ${info.runtime.pgOsUser} (PostgreSQL's) no longer exists`);
  }
  return { as, bin: await binariesAt(info.runtime.pgBinDir, as) };
}

/**
 * Creates every instance from nothing: initdb the catalog and the primaries,
 * copy each primary's fresh data dir into its replicas (before the primary's
 * first start), start the primaries, create the replicas' slots and the
 * databases, start the replicas and wait until they stream. Fills in pids.
 */
export async function createPgStack(ctx: PgContext, info: StackInfo, log: ProgressSink): Promise<void> {
  const primaries = [info.catalog, ...info.shards.map((s) => s.primary)];
  await Promise.all(primaries.map((p) => step(log, `initdb ${p.name} (PostgreSQL ${ctx.bin.version})`, () => initInstance(ctx, p))));
  for (const shard of info.shards) {
    for (const r of shard.replicas) await step(log, `cloning ${shard.primary.name} into ${r.name}`, () => cloneReplica(ctx, shard.primary, r));
  }
  await Promise.all(primaries.map(async (p) => {
    p.pid = await step(log, `starting ${p.name} on :${p.port}`, () => startInstance(ctx, p));
  }));
  // Slots before the replicas connect: a replica naming a missing slot is refused.
  for (const shard of info.shards) {
    for (const r of shard.replicas) await ensureReplicationSlot(shard.primary.url, r.slot);
  }
  await step(log, 'creating databases', () => Promise.all(primaries.map((p) => ensureDatabase(p))));
  await startReplicas(ctx, info, log, true);
}

async function startReplicas(ctx: PgContext, info: StackInfo, log: ProgressSink, caughtUp: boolean): Promise<void> {
  await Promise.all(info.shards.map(async (shard) => {
    const replicas = shard.replicas.filter((r) => !r.pendingRejoin);
    for (const r of shard.replicas.filter((x) => x.pendingRejoin)) {
      log(`not starting ${r.name}: an emergency failover demoted it; \`npx tessera shard rejoin ${shard.name}\` rebuilds it as a replica`);
    }
    for (const r of replicas) {
      r.pid = runningPgPid(r.dataDir) ?? (await step(log, `starting ${r.name} (streaming from :${shard.primary.port}) on :${r.port}`, () => startInstance(ctx, r)));
    }
    if (replicas.length > 0) {
      await step(log, `checking ${shard.name} replication (pg_is_in_recovery, pg_stat_replication)`, () => waitStreaming(shard.primary, replicas, { caughtUp }));
    }
  }));
}

/** Starts instances that are not running (a stopped stack, or after a crash); fills in pids. */
export async function startPgStack(ctx: PgContext, info: StackInfo, log: ProgressSink): Promise<void> {
  const primaries = [info.catalog, ...info.shards.map((s) => s.primary)];
  await Promise.all(primaries.map(async (p) => {
    p.pid = runningPgPid(p.dataDir) ?? (await step(log, `starting ${p.name} on :${p.port}`, () => startInstance(ctx, p)));
  }));
  await startReplicas(ctx, info, log, false);
}

/** Stops every instance: replicas first (so they do not spin reconnecting), then primaries and the catalog. */
export async function stopPgStack(ctx: PgContext, info: StackInfo, log: ProgressSink): Promise<void> {
  const replicaNames = new Set(info.shards.flatMap((s) => s.replicas.map((r) => r.name)));
  const all = pgInstances(info);
  for (const group of [all.filter((i) => replicaNames.has(i.name)), all.filter((i) => !replicaNames.has(i.name))]) {
    await Promise.all(group.map(async (inst) => {
      if (runningPgPid(inst.dataDir)) await step(log, `stopping ${inst.name} (pg_ctl stop -m fast)`, () => stopInstance(ctx, inst));
      inst.pid = 0;
    }));
  }
}
