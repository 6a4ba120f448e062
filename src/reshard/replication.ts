/**
 * PostgreSQL logical replication objects of a workflow, each created only if
 * missing and dropped only if present, so every phase can run again after a
 * crash. Tessera does not capture changes itself: the engine copies and streams.
 */
import pg from 'pg';
import type { KeyRange } from '../routing/keyrange.js';
import { parseLsn } from '../db/lsn.js';
import { rangeFilterLiteral } from './range-sql.js';

const id = (name: string) => pg.escapeIdentifier(name);

/**
 * A publication of the three sharded tables filtered to `range`. TRUNCATE is
 * not published: a row filter does not apply to it and it would empty the
 * other side's whole table.
 */
export async function ensurePublication(db: pg.ClientBase, name: string, range: KeyRange): Promise<void> {
  const { rowCount } = await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [name]);
  if (rowCount) return;
  const where = rangeFilterLiteral(range);
  await db.query(
    `CREATE PUBLICATION ${id(name)} FOR TABLE users WHERE ${where}, documents WHERE ${where}, email_lookup WHERE ${where}
     WITH (publish = 'insert, update, delete')`,
  );
}

export async function dropPublication(db: pg.ClientBase, name: string): Promise<void> {
  await db.query(`DROP PUBLICATION IF EXISTS ${id(name)}`);
}

/** Whether a subscription of this name exists in the connected database. */
export async function subscriptionExists(db: pg.ClientBase, name: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'SELECT 1 FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
    [name],
  );
  return (rowCount ?? 0) > 0;
}

/** Options of {@link ensureSubscription}. */
export interface SubscriptionOptions {
  /** Copy the rows that exist now (forward), or only stream from the slot's position (rollback). */
  copyData: boolean;
  /** Use this existing slot on the publisher instead of creating one. */
  existingSlot?: string;
  /** Drops a leftover slot of this name on the publisher (a CREATE SUBSCRIPTION killed half-way). */
  dropStaleSlot?: (slot: string) => Promise<void>;
}

/** PostgreSQL 16 added the subscription option `origin`. */
const ORIGIN_OPTION_SINCE = 160000;

/** `server_version_num` of the connected server, e.g. 150020 for 15.20. */
export async function serverVersionNum(db: pg.ClientBase): Promise<number> {
  const res = await db.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  return Number((res.rows[0] as { v: string }).v);
}

/**
 * Whether a slot made on this server may be made before the forward stream
 * has caught up: only where the rollback subscription can filter out rows
 * that arrived by replication (`origin = none`, PostgreSQL 16+). On 15 (the
 * Docker images' Debian bookworm) the cutover makes it inside the window,
 * once the forward stream has applied everything, so that the slot holds
 * only the target's own writes.
 */
export async function canFilterOrigin(db: pg.ClientBase): Promise<boolean> {
  return (await serverVersionNum(db)) >= ORIGIN_OPTION_SINCE;
}

/**
 * Subscribes `db` to `publication` on the server at `publisherUrl`. The apply
 * worker commits synchronously so that the slot's confirmed_flush_lsn follows
 * the apply closely, which keeps the cutover wait short. `origin = none`
 * (PostgreSQL 16+) keeps a rollback stream from echoing rows that arrived by
 * replication; see {@link canFilterOrigin} for 15.
 */
export async function ensureSubscription(db: pg.ClientBase, name: string, publisherUrl: string, publication: string, opts: SubscriptionOptions): Promise<void> {
  if (await subscriptionExists(db, name)) {
    await db.query(`ALTER SUBSCRIPTION ${id(name)} ENABLE`);
    return;
  }
  if (!opts.existingSlot) await opts.dropStaleSlot?.(name);
  const slotOpts = opts.existingSlot ? `create_slot = false, slot_name = ${pg.escapeLiteral(opts.existingSlot)}` : `slot_name = ${pg.escapeLiteral(name)}`;
  const origin = (await canFilterOrigin(db)) ? ', origin = none' : '';
  await db.query(
    `CREATE SUBSCRIPTION ${id(name)} CONNECTION ${pg.escapeLiteral(publisherUrl)} PUBLICATION ${id(publication)}
     WITH (copy_data = ${opts.copyData}, ${slotOpts}, synchronous_commit = 'on'${origin})`,
  );
}

/** Drops a subscription and, through it, its slot on the publisher. */
export async function dropSubscription(db: pg.ClientBase, name: string): Promise<void> {
  if (!(await subscriptionExists(db, name))) return;
  await db.query(`DROP SUBSCRIPTION ${id(name)}`);
}

/** The per-table state of a subscription's initial copy (`r` = ready, streaming). */
export async function syncStates(db: pg.ClientBase, name: string): Promise<{ table: string; state: string }[]> {
  const res = await db.query<{ table: string; state: string }>(
    `SELECT c.relname AS table, sr.srsubstate AS state
       FROM pg_subscription_rel sr
       JOIN pg_subscription s ON s.oid = sr.srsubid
       JOIN pg_class c ON c.oid = sr.srrelid
      WHERE s.subname = $1 ORDER BY c.relname`,
    [name],
  );
  return res.rows;
}

/** Rows the initial-copy workers of the connected database have loaded so far (in-flight COPYs). */
export async function copyProgress(db: pg.ClientBase): Promise<{ table: string; tuples: number }[]> {
  const res = await db.query<{ table: string; tuples: string }>(
    `SELECT relid::regclass::text AS table, tuples_processed::text AS tuples
       FROM pg_stat_progress_copy WHERE datname = current_database() AND command = 'COPY FROM'`,
  );
  return res.rows.map((r) => ({ table: r.table, tuples: Number(r.tuples) }));
}

/** Creates a logical slot (pgoutput) unless it exists. Creating waits for running transactions to end. */
export async function ensureLogicalSlot(db: pg.ClientBase, slot: string): Promise<void> {
  const { rowCount } = await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  if (!rowCount) await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
}

/** Drops a slot if it exists and nobody uses it; waits a little for a walsender that is stopping. */
export async function dropSlotIfExists(db: pg.ClientBase, slot: string, waitMs = 10_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const res = await db.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    const row = res.rows[0];
    if (!row) return;
    if (!row.active) {
      await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
      return;
    }
    if (Date.now() > deadline) throw new Error(`replication slot ${slot} is still in use`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The slot's confirmed_flush_lsn: how far the subscriber has durably applied. */
export async function confirmedFlush(db: pg.ClientBase, slot: string): Promise<bigint | null> {
  const res = await db.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  const lsn = res.rows[0]?.lsn;
  return lsn ? parseLsn(lsn) : null;
}

/** `pg_current_wal_lsn()` of the connected server. */
export async function currentLsn(db: pg.ClientBase): Promise<bigint> {
  const res = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return parseLsn((res.rows[0] as { lsn: string }).lsn);
}

/**
 * Waits until the subscriber behind `slot` has confirmed `lsn`. Polls fast:
 * this wait sits inside the cutover window.
 */
export async function waitConfirmed(db: pg.ClientBase, slot: string, lsn: bigint, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pause = 2;
  for (;;) {
    const flushed = await confirmedFlush(db, slot);
    if (flushed === null) throw new Error(`replication slot ${slot} is missing on the publisher`);
    if (flushed >= lsn) return;
    if (Date.now() > deadline) throw new Error(`the subscriber of slot ${slot} did not catch up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 20);
  }
}
