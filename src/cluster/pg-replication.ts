/**
 * Streaming replicas. A replica is a copy of the primary's freshly
 * initialised data directory, taken before the primary's first start, plus
 * `standby.signal`, `primary_conninfo` and a physical replication slot (so it
 * cannot fall off the primary's WAL). No pg_basebackup needed: initdb's
 * output is a consistent, cleanly shut down cluster.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.js';
import { withClient, withDatabase, writeInstanceConf, writeOwned, type PgContext } from './pg-instance.js';
import type { PgInstanceInfo, ReplicaInfo } from './stack-file.js';

/**
 * Makes `replica.dataDir` a standby of `primary`: copies the primary's data
 * directory (which must never have been started) and configures it.
 */
export async function cloneReplica(ctx: PgContext, primary: PgInstanceInfo, replica: ReplicaInfo): Promise<void> {
  if (existsSync(join(primary.dataDir, 'postmaster.pid')) || !existsSync(join(primary.dataDir, 'PG_VERSION'))) {
    throw new Error(`${primary.name}: can only clone a freshly initialised, stopped data directory`);
  }
  if (existsSync(replica.dataDir)) throw new Error(`${replica.dataDir} already exists`);
  // cp -a as the service user keeps ownership and the 0700 mode PostgreSQL insists on.
  await run('cp', ['-a', primary.dataDir, replica.dataDir], { as: ctx.as });
  await writeInstanceConf(ctx, replica, { primaryPort: primary.port, slot: replica.slot });
  await writeOwned(join(replica.dataDir, 'standby.signal'), '', ctx.as);
}

/** Creates a physical slot on the primary (reserving WAL now) unless it exists. */
export async function ensureReplicationSlot(primaryUrl: string, slot: string): Promise<void> {
  // The `postgres` database: the shard's own may not exist yet.
  await withClient(withDatabase(primaryUrl, 'postgres'), async (c) => {
    const { rowCount } = await c.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (!rowCount) await c.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
  });
}

/** One row of the primary's pg_stat_replication. */
export interface ReplicationRow {
  /** application_name: the replica's slot name. */
  name: string;
  /** `streaming`, `catchup`, `startup`, … */
  state: string;
  /** Bytes of WAL the replica has not replayed yet (0 when caught up); null while unknown. */
  lagBytes: number | null;
}

/** The primary's view of its replicas. */
export async function replicationRows(primaryUrl: string): Promise<ReplicationRow[]> {
  return withClient(withDatabase(primaryUrl, 'postgres'), async (c) => {
    const { rows } = await c.query<{ name: string; state: string; lag: string | null }>(
      `SELECT application_name AS name, state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::text AS lag
         FROM pg_stat_replication ORDER BY application_name`,
    );
    return rows.map((r) => ({ name: r.name, state: r.state, lagBytes: r.lag === null ? null : Number(r.lag) }));
  }, 3000);
}

/** `pg_is_in_recovery()`: true on a standby. */
export async function isInRecovery(url: string): Promise<boolean> {
  return withClient(withDatabase(url, 'postgres'), async (c) => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === true, 3000);
}

/**
 * Waits until every replica is in recovery and the primary reports it
 * streaming — with `caughtUp`, also having replayed everything (on a new
 * stack, so that the databases just created exist on it; under live traffic
 * lag is rarely exactly 0, so restarts do not ask for it). Throws naming the
 * replicas that are not there after `timeoutMs`.
 */
export async function waitStreaming(primary: PgInstanceInfo, replicas: ReplicaInfo[], opts: { caughtUp?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let missing: string[] = replicas.map((r) => r.slot);
  while (Date.now() < deadline) {
    const rows = await replicationRows(primary.url).catch(() => []);
    const streaming = new Set(rows.filter((r) => r.state === 'streaming' && (!opts.caughtUp || r.lagBytes === 0)).map((r) => r.name));
    missing = replicas.filter((r) => !streaming.has(r.slot)).map((r) => r.slot);
    if (missing.length === 0) {
      for (const r of replicas) {
        if (!(await isInRecovery(r.url))) throw new Error(`${r.name} is not in recovery: it is not a standby`);
      }
      return;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${primary.name}: replicas not streaming (or not caught up) after ${timeoutMs / 1000} s: ${missing.join(', ')}`);
}
