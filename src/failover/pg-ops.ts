/**
 * The PostgreSQL statements a failover is made of, each on one short-lived
 * connection: positions, promotion, fencing, synchronous standbys. Pure SQL,
 * so they work wherever the instances run (local processes or containers).
 */
import pg from 'pg';
import { formatLsn, parseLsn } from '../db/lsn.js';

/** Runs `fn` on a new connection to `url` with a statement timeout; always closes it. */
export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>, timeoutMs = 5000): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: Math.min(timeoutMs, 3000), statement_timeout: timeoutMs, query_timeout: timeoutMs + 1000, application_name: 'tessera-failover' });
  // A server stopping (a failover stops servers) ends idle connections with an error event: unhandled,
  // it would end the CLI. A query on such a connection fails on its own.
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Whether the server answers at all (within `timeoutMs`). */
export async function reachable(url: string, timeoutMs = 2000): Promise<boolean> {
  return withPg(url, async (c) => (await c.query('SELECT 1')).rowCount === 1, timeoutMs).catch(() => false);
}

/** Where a server stands: in recovery or not, and its WAL positions. */
export interface Position {
  inRecovery: boolean;
  /** A primary's current WAL position, or a standby's last received one. */
  received: bigint;
  /** A standby's last replayed position (a primary: its current position). */
  replayed: bigint;
}

/** The server's recovery state and positions. */
export async function position(url: string): Promise<Position> {
  return withPg(url, async (c) => {
    const { rows } = await c.query<{ rec: boolean; cur: string | null; rcv: string | null; rpl: string | null }>(
      `SELECT pg_is_in_recovery() AS rec,
              CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS cur,
              pg_last_wal_receive_lsn()::text AS rcv, pg_last_wal_replay_lsn()::text AS rpl`,
    );
    const r = rows[0]!;
    if (!r.rec) {
      const cur = parseLsn(r.cur!);
      return { inRecovery: false, received: cur, replayed: cur };
    }
    const replayed = r.rpl === null ? 0n : parseLsn(r.rpl);
    // A standby that replays only from its own pg_wal (no walreceiver yet) reports no receive position.
    const received = r.rcv === null ? replayed : parseLsn(r.rcv);
    return { inRecovery: true, received: received > replayed ? received : replayed, replayed };
  });
}

/**
 * Fences every range the shard owns: from now on its fence trigger refuses
 * every write (SQLSTATE TS001, which apps retry on the new owner). The UPDATE
 * waits for in-flight writers (they hold the range rows FOR SHARE), so once it
 * returns no write can commit here any more.
 */
export async function fenceWrites(url: string, timeoutMs = 10_000): Promise<void> {
  await withPg(url, (c) => c.query('UPDATE tessera_owned_ranges SET fenced = true WHERE NOT fenced'), timeoutMs);
}

/** Lifts the fence on every range the shard owns (on the new primary, which inherited it). */
export async function unfenceWrites(url: string): Promise<void> {
  await withPg(url, (c) => c.query('UPDATE tessera_owned_ranges SET fenced = false WHERE fenced'));
}

/**
 * Promotes a standby and waits until it accepts writes. pg_promote's own wait
 * checks ten times a second; polling here every few milliseconds takes up to
 * 100 ms off a planned failover's write pause.
 */
export async function promote(url: string, timeoutSeconds = 60): Promise<void> {
  await withPg(url, async (c) => {
    await c.query('SELECT pg_promote(false)');
    const deadline = Date.now() + timeoutSeconds * 1000;
    while ((await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r) {
      if (Date.now() > deadline) throw new Error(`promotion did not finish within ${timeoutSeconds} s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }, (timeoutSeconds + 5) * 1000);
}

/** Waits until the standby at `url` has replayed `lsn`; throws after `timeoutMs` with where it stands. */
export async function waitReplayed(url: string, lsn: bigint, timeoutMs: number): Promise<Position> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await position(url);
    if (p.replayed >= lsn) return p;
    if (Date.now() > deadline) throw new Error(`replayed only up to ${formatLsn(p.replayed)} of ${formatLsn(lsn)} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Creates a physical replication slot (reserving WAL now) unless it exists. */
export async function ensureSlot(url: string, slot: string): Promise<void> {
  await withPg(url, async (c) => {
    const { rowCount } = await c.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    // 42710: made meanwhile by someone else (a compose instance's entrypoint makes its own slot too).
    if (!rowCount) await c.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]).catch((err: { code?: string }) => {
      if (err.code !== '42710') throw err;
    });
  });
}

/** Drops a physical slot nobody uses any more (an old primary's slots on itself). */
export async function dropSlot(url: string, slot: string): Promise<void> {
  await withPg(url, (c) => c.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot]));
}

/**
 * Makes commits on the primary at `url` wait for one of `standbys` (their
 * application names) to have flushed them (`ANY 1 (…)`), or not wait at all
 * with none: `ALTER SYSTEM` + reload, so it holds across restarts.
 */
export async function setSyncStandbys(url: string, standbys: string[]): Promise<void> {
  const value = standbys.length === 0 ? '' : `ANY 1 (${standbys.map((s) => `"${s.replace(/"/g, '')}"`).join(', ')})`;
  await withPg(url, async (c) => {
    await c.query(`ALTER SYSTEM SET synchronous_standby_names = ${pg.escapeLiteral(value)}`);
    await c.query('SELECT pg_reload_conf()');
  });
}

/** The primary's `synchronous_standby_names` now. */
export async function syncStandbys(url: string): Promise<string> {
  return withPg(url, async (c) => (await c.query<{ v: string }>('SELECT current_setting(\'synchronous_standby_names\') AS v')).rows[0]?.v ?? '');
}

/** Application names of the standbys streaming from the primary at `url` now. */
export async function streamingStandbys(url: string): Promise<string[]> {
  return withPg(url, async (c) => (await c.query<{ name: string }>("SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming'")).rows.map((r) => r.name));
}
