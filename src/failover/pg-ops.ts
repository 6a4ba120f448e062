/**
 * The PostgreSQL statements a failover is made of: positions, promotion,
 * fencing, synchronous standbys. Each runs on one short-lived connection, or
 * on a connection {@link HeldConnections} keeps open, which the steps inside
 * a planned failover's write pause use. Pure SQL, so they work wherever the
 * instances run (local processes or containers).
 */
import pg from 'pg';
import { formatLsn, parseLsn } from '../db/lsn.js';

/** Runs `fn` on a new connection to `url` with a statement timeout; always closes it. */
export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>, timeoutMs = 5000): Promise<T> {
  const c = await connect(url, timeoutMs);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * One open connection per server, for the length of one failover. A new
 * connection costs a TCP and SCRAM handshake, tens of milliseconds on a busy
 * machine, and a planned failover's write pause would pay it at every step.
 * A connection whose statement failed, or that the server ended, is dropped:
 * the next statement opens a new one.
 */
export class HeldConnections {
  private readonly open = new Map<string, Promise<pg.Client>>();

  /** Runs `fn` on the connection to `url`, opened first if there is none (statements time out after 10 s). */
  async run<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    let client = this.open.get(url);
    if (!client) {
      client = connect(url, 10_000);
      this.open.set(url, client);
      const c = await client.catch((err: unknown) => {
        this.open.delete(url);
        throw err;
      });
      const drop = () => {
        if (this.open.get(url) === client) this.open.delete(url);
      };
      c.on('end', drop);
      c.on('error', drop);
    }
    const c = await client;
    try {
      return await fn(c);
    } catch (err) {
      if (this.open.get(url) === client) this.open.delete(url);
      await c.end().catch(() => undefined);
      throw err;
    }
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.end().catch(() => undefined)));
  }
}

/** A statement on `url`: on the held connection when `via` is given, else on a new one. */
function on<T>(url: string, via: HeldConnections | undefined, fn: (c: pg.Client) => Promise<T>, timeoutMs?: number): Promise<T> {
  return via ? via.run(url, fn) : withPg(url, fn, timeoutMs);
}

/** A new connection to `url` whose statements time out after `timeoutMs`. */
async function connect(url: string, timeoutMs: number): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: Math.min(timeoutMs, 3000), statement_timeout: timeoutMs, query_timeout: timeoutMs + 1000, application_name: 'tessera-failover' });
  // A server stopping (a failover stops servers) ends idle connections with an error event: unhandled,
  // it would end the CLI. A query on such a connection fails on its own.
  c.on('error', () => undefined);
  await c.connect();
  return c;
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
  /** A standby's WAL receiver streams from a primary now (a primary: false). */
  streaming: boolean;
  /** What a standby's startup process waits for now (pg_stat_activity's wait_event), if anything. */
  startupWait: string | null;
}

/** The server's recovery state and positions (`via`: on a held connection). */
export async function position(url: string, via?: HeldConnections): Promise<Position> {
  return on(url, via, async (c) => {
    const { rows } = await c.query<{ rec: boolean; cur: string | null; rcv: string | null; rpl: string | null; receiver: string | null; startup: string | null }>(
      `SELECT pg_is_in_recovery() AS rec,
              CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS cur,
              pg_last_wal_receive_lsn()::text AS rcv, pg_last_wal_replay_lsn()::text AS rpl,
              (SELECT status FROM pg_stat_wal_receiver) AS receiver,
              (SELECT wait_event FROM pg_stat_activity WHERE backend_type = 'startup') AS startup`,
    );
    const r = rows[0]!;
    if (!r.rec) {
      const cur = parseLsn(r.cur!);
      return { inRecovery: false, received: cur, replayed: cur, streaming: false, startupWait: null };
    }
    const replayed = r.rpl === null ? 0n : parseLsn(r.rpl);
    // A standby that replays only from its own pg_wal (no walreceiver yet) reports no receive position.
    const received = r.rcv === null ? replayed : parseLsn(r.rcv);
    return { inRecovery: true, received: received > replayed ? received : replayed, replayed, streaming: r.receiver === 'streaming', startupWait: r.startup };
  });
}

/**
 * Fences every range the shard owns: from now on its fence trigger refuses
 * every write (SQLSTATE TS001, which apps retry on the new owner). The UPDATE
 * waits for in-flight writers (they hold the range rows FOR SHARE), so once it
 * returns no write can commit here any more.
 */
export async function fenceWrites(url: string, via?: HeldConnections): Promise<void> {
  await on(url, via, (c) => c.query('UPDATE tessera_owned_ranges SET fenced = true WHERE NOT fenced'), 10_000);
}

/**
 * Lifts the fence on every range the shard owns (on the new primary, which
 * inherited it). Its commit waits for no synchronous standby: none may stream
 * from a just-promoted primary yet, and an unfence that a crash lost only
 * leaves the shard fenced.
 */
export async function unfenceWrites(url: string, via?: HeldConnections): Promise<void> {
  await on(url, via, (c) => c.query('BEGIN; SET LOCAL synchronous_commit = local; UPDATE tessera_owned_ranges SET fenced = false WHERE fenced; COMMIT'));
}

/**
 * Promotes a standby and waits until it accepts writes. pg_promote's own wait
 * checks ten times a second; polling here every few milliseconds takes up to
 * 100 ms off a planned failover's write pause.
 */
export async function promote(url: string, via?: HeldConnections, timeoutSeconds = 60): Promise<void> {
  await on(url, via, async (c) => {
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
export async function setSyncStandbys(url: string, standbys: string[], via?: HeldConnections): Promise<void> {
  const value = standbys.length === 0 ? '' : `ANY 1 (${standbys.map((s) => `"${s.replace(/"/g, '')}"`).join(', ')})`;
  await on(url, via, async (c) => {
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
