import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import { instrumentPgPool } from '../observability/client-spans.js';
import { parseLsn } from './lsn.js';

/** The health of one read replica as last measured. */
export interface ReplicaStatus {
  name: string;
  /** Whether the last probe reached it and found it in recovery (a standby). */
  reachable: boolean;
  /** WAL position it has replayed up to. */
  replayLsn: bigint;
  /** Bytes of WAL the primary has that it has not replayed. */
  lagBytes: number;
  /** How long it has been behind: 0 when caught up, however idle the primary. */
  lagMs: number;
}

interface Sample {
  at: number;
  lsn: bigint;
}

const HISTORY_MS = 120_000;

/**
 * One shard's read replicas and how far behind each one is.
 *
 * Time lag is measured against our own samples of the primary's WAL position:
 * a replica that has replayed up to L has been behind since the first moment
 * we saw the primary past L. An idle primary produces no new WAL, so an idle
 * replica shows 0 — unlike `now() - pg_last_xact_replay_timestamp()`, which
 * grows without bound when nothing is written.
 */
export class ReplicaSet {
  readonly replicas: { name: string; url: string; pool: pg.Pool; status: ReplicaStatus }[];
  #samples: Sample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #rr = 0;

  constructor(
    readonly shard: string,
    urls: string[],
    private readonly primary: pg.Pool,
    private readonly opts: { size: number; timeoutMs: number; applicationName: string; maxLagMs: number; pollMs: number; log: FastifyBaseLogger },
  ) {
    this.replicas = urls.map((url, i) => {
      const pool = new pg.Pool({
        connectionString: url,
        max: opts.size,
        connectionTimeoutMillis: Math.min(opts.timeoutMs, 1000),
        idleTimeoutMillis: 30_000,
        statement_timeout: opts.timeoutMs,
        query_timeout: opts.timeoutMs + 500,
        keepAlive: true,
        application_name: opts.applicationName,
      });
      // The error alone: pino would serialise the whole client hanging off it.
      pool.on('error', (err) => opts.log.warn({ shard, replica: i, error: err.message, code: (err as { code?: string }).code }, 'idle connection to replica failed'));
      const name = `${shard}-r${i + 1}`;
      instrumentPgPool(pool, { shard, role: 'replica', replica: name, url });
      return { name, url, pool, status: { name, reachable: false, replayLsn: 0n, lagBytes: 0, lagMs: Number.POSITIVE_INFINITY } };
    });
  }

  /** Starts probing on an interval; the first probe runs now. */
  async start(): Promise<void> {
    if (this.replicas.length === 0) return;
    await this.probe();
    this.#timer = setInterval(() => void this.probe(), this.opts.pollMs);
    this.#timer.unref();
  }

  /** Measures the primary's position and every replica's replay position once. */
  async probe(): Promise<void> {
    const at = Date.now();
    try {
      const res = await this.primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      this.#samples.push({ at, lsn: parseLsn(res.rows[0]!.lsn) });
    } catch {
      // Primary unreachable: keep the history we have; replicas are judged against it.
    }
    this.#samples = this.#samples.filter((s, i, all) => s.at >= at - HISTORY_MS || i === all.length - 1);
    const newest = this.#samples.at(-1);
    await Promise.all(
      this.replicas.map(async (r) => {
        try {
          const res = await r.pool.query<{ lsn: string | null; rec: boolean }>('SELECT pg_last_wal_replay_lsn()::text AS lsn, pg_is_in_recovery() AS rec');
          const row = res.rows[0]!;
          if (!row.rec || row.lsn === null) throw new Error('not a standby');
          const replay = parseLsn(row.lsn);
          const firstAhead = this.#samples.find((s) => s.lsn > replay);
          r.status = {
            name: r.name,
            reachable: true,
            replayLsn: replay,
            lagBytes: newest && newest.lsn > replay ? Number(newest.lsn - replay) : 0,
            lagMs: firstAhead ? Date.now() - firstAhead.at : 0,
          };
        } catch {
          r.status = { ...r.status, reachable: false, lagMs: Number.POSITIVE_INFINITY };
        }
      }),
    );
  }

  /**
   * A replica fit to serve a read: reachable, within the lag limit, and — for a
   * read that carries a consistency token — replayed past `minLsn` (as last
   * measured). Round-robin among the fit ones; undefined means "use the primary".
   */
  pick(minLsn?: bigint): { name: string; pool: pg.Pool } | undefined {
    const fit = this.replicas.filter(
      (r) => r.status.reachable && r.status.lagMs <= this.opts.maxLagMs && (minLsn === undefined || r.status.replayLsn >= minLsn),
    );
    if (fit.length === 0) return undefined;
    this.#rr = (this.#rr + 1) % fit.length;
    return fit[this.#rr];
  }

  /** Marks a replica unusable until the next successful probe (a read on it failed). */
  ban(name: string): void {
    const r = this.replicas.find((x) => x.name === name);
    if (r) r.status = { ...r.status, reachable: false };
  }

  statuses(): ReplicaStatus[] {
    return this.replicas.map((r) => r.status);
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await Promise.all(this.replicas.map((r) => r.pool.end().catch(() => undefined)));
  }
}
