import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import { TesseraError } from '../errors/catalog.js';
import { instrumentPgPool } from '../observability/client-spans.js';
import { breakerRejected, servedBy } from '../observability/shard-spans.js';
import { CircuitBreaker } from './breaker.js';
import { isUnavailable, mapDbError } from './errors.js';
import { parseLsn } from './lsn.js';
import { ReplicaSet } from './replicas.js';

// int8 (bigint) as string: ksids and versions exceed 2^53 or must stay exact.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

/** Whether a shard's primary serves, or a failover is moving it (see the catalog's `shards.state`). */
export type ShardState = 'serving' | 'switching' | 'electing';

/** How durable a shard's commits are: `sync` waits for a replica to have each commit. */
export type Durability = 'sync' | 'async';

/**
 * Listens for errors on a client checked out of a pool. A connection the
 * server ends while the client is checked out but between queries (a
 * session holding an email claim's lock while the user is written elsewhere,
 * when a failover stops the primary) emits 'error' on the client, and with
 * no listener that is an uncaught exception that takes the process down. The
 * next query on it fails instead, and the caller handles that. Returns the
 * detach function, to call before the client goes back to the pool.
 */
export function guard(client: pg.PoolClient): () => void {
  const ignore = () => undefined;
  client.on('error', ignore);
  return () => void client.removeListener('error', ignore);
}

/** The fields of a server notice (node-postgres' NoticeMessage) this module reads. */
interface PgNotice {
  code?: string;
  message?: string;
  detail?: string;
}

/**
 * Whether a notice is PostgreSQL telling that it stopped waiting for a
 * synchronous standby: a COMMIT whose wait is cancelled (pg_cancel_backend;
 * the statement timeout is off by then) still reports success, with this
 * WARNING, and the commit is on the primary alone. Matched on the server's
 * English text (our servers run with the C locale); the SQLSTATE is the
 * generic 01000.
 */
export function isSyncWaitCancelled(msg: PgNotice): boolean {
  return msg.code === '01000' && (/synchronous replication/i.test(msg.message ?? '') || /committed locally/i.test(msg.detail ?? ''));
}

/** Where one shard lives, as the catalog records it. */
export interface ShardEndpoints {
  name: string;
  primaryUrl: string;
  replicaUrls: string[];
  /** Bumped by every failover. @default 1 */
  epoch?: number;
  /** @default `serving` */
  state?: ShardState;
  durability?: Durability;
}

/** Pool settings shared by every shard. */
export interface PoolSettings {
  /** Connections per pool. */
  size: number;
  /** Bound on connect and on each statement, in ms. */
  timeoutMs: number;
  /** `application_name` seen in pg_stat_activity. */
  applicationName: string;
  /** A replica further behind than this serves no reads. */
  maxReplicaLagMs: number;
  /** How often replica lag is measured. */
  replicaPollMs: number;
}

/** Where a read was served. */
export type ReadSource = 'replica' | 'primary';

/** Told of every unit of work a shard serves (for per-shard load metrics). */
export type ShardOpObserver = (shard: string, role: ReadSource) => void;

interface ShardPool {
  endpoints: ShardEndpoints;
  primary: pg.Pool;
  /**
   * Sessions that hold a lock while the caller writes elsewhere (email
   * claims). Kept apart from `primary` so that lock holders, each waiting for
   * a second connection, can never exhaust the pool they wait on.
   */
  locks: pg.Pool;
  replicas: ReplicaSet;
  breaker: CircuitBreaker;
}

/**
 * One pool per shard and role, created and closed here and nowhere else.
 * Every use goes through the shard's circuit breaker and maps driver errors.
 */
export class ShardPools {
  readonly #shards = new Map<string, ShardPool>();

  constructor(
    private readonly settings: PoolSettings,
    private readonly log: FastifyBaseLogger,
    private readonly onOperation: ShardOpObserver = () => undefined,
  ) {}

  /** Creates pools for shards not seen yet, and replaces pools whose address changed. */
  sync(endpoints: ShardEndpoints[]): void {
    for (const ep of endpoints) {
      const current = this.#shards.get(ep.name);
      if (current && current.endpoints.primaryUrl === ep.primaryUrl && current.endpoints.replicaUrls.join() === ep.replicaUrls.join()) {
        current.endpoints = ep; // the state or epoch may have changed
        continue;
      }
      if (current) {
        void current.primary.end().catch(() => undefined);
        void current.locks.end().catch(() => undefined);
        void current.replicas.close();
      }
      const primary = this.#makePool(ep.name, ep.primaryUrl);
      const locks = this.#makePool(ep.name, ep.primaryUrl);
      const replicas = new ReplicaSet(ep.name, ep.replicaUrls, primary, {
        size: this.settings.size,
        timeoutMs: this.settings.timeoutMs,
        applicationName: this.settings.applicationName,
        maxLagMs: this.settings.maxReplicaLagMs,
        pollMs: this.settings.replicaPollMs,
        log: this.log,
      });
      void replicas.start();
      this.#shards.set(ep.name, { endpoints: ep, primary, locks, replicas, breaker: new CircuitBreaker() });
    }
  }

  #makePool(shard: string, url: string): pg.Pool {
    const pool = new pg.Pool({
      connectionString: url,
      max: this.settings.size,
      connectionTimeoutMillis: this.settings.timeoutMs,
      idleTimeoutMillis: 30_000,
      statement_timeout: this.settings.timeoutMs,
      // The client-side bound catches a server that stopped answering at all.
      query_timeout: this.settings.timeoutMs + 500,
      keepAlive: true,
      application_name: this.settings.applicationName,
    });
    // An idle client that loses its server emits here; unhandled it would crash the process.
    // The error alone: pino would serialise the whole client hanging off it.
    pool.on('error', (err) => this.log.warn({ shard, error: err.message, code: (err as { code?: string }).code }, 'idle connection to shard failed'));
    instrumentPgPool(pool, { shard, role: 'primary', url });
    return pool;
  }

  /** Names of the shards with pools. */
  names(): string[] {
    return [...this.#shards.keys()];
  }

  /** The endpoints of a shard. */
  endpoints(shard: string): ShardEndpoints | undefined {
    return this.#shards.get(shard)?.endpoints;
  }

  /**
   * Whether a planned failover is moving the shard's primary now: its writes
   * are fenced and its primary may be stopped, and a caller should wait for
   * the new primary rather than fail.
   */
  switching(shard: string): boolean {
    return this.#shards.get(shard)?.endpoints.state === 'switching';
  }

  /** The breaker state of a shard, for /readyz and metrics. */
  breakerState(shard: string): string {
    return this.#shards.get(shard)?.breaker.state ?? 'unknown';
  }

  #get(shard: string): ShardPool {
    const sp = this.#shards.get(shard);
    if (!sp) throw new TesseraError('TESSERA_ERR_SHARD_UNAVAILABLE', `shard ${shard} is not configured`, { retryAfter: 1, shard });
    if (!sp.breaker.allow()) {
      breakerRejected(shard, sp.breaker.state);
      throw new TesseraError('TESSERA_ERR_SHARD_UNAVAILABLE', `shard ${shard} is unavailable`, { retryAfter: 1, shard });
    }
    return sp;
  }

  /**
   * Runs `fn` with a client of the shard's primary. A client that failed is
   * destroyed rather than returned to the pool: its session state is unknown.
   */
  async withPrimary<T>(shard: string, fn: (client: pg.PoolClient) => Promise<T>, role: 'main' | 'locks' | 'probe' = 'main'): Promise<T> {
    const sp = this.#get(shard);
    let client: pg.PoolClient;
    try {
      client = await (role === 'locks' ? sp.locks : sp.primary).connect();
    } catch (err) {
      sp.breaker.failure();
      throw mapDbError(shard, err);
    }
    const detach = guard(client);
    // A commit whose wait for a synchronous standby was cancelled reports success; it must not be acknowledged.
    let unconfirmed = false;
    const onNotice = (msg: PgNotice) => {
      if (isSyncWaitCancelled(msg)) unconfirmed = true;
    };
    client.on('notice', onNotice);
    let result: T;
    try {
      result = await fn(client);
    } catch (err) {
      client.removeListener('notice', onNotice);
      detach();
      const broken = isUnavailable(err);
      client.release(broken ? (err as Error) : undefined);
      if (broken) sp.breaker.failure();
      else sp.breaker.success();
      throw mapDbError(shard, err);
    }
    client.removeListener('notice', onNotice);
    detach();
    client.release();
    sp.breaker.success();
    // Probes (readiness, scrapes) are not the shard's load.
    if (role !== 'probe') this.onOperation(shard, 'primary');
    if (unconfirmed) {
      this.log.warn({ shard }, 'a commit\'s wait for a synchronous standby was cancelled; answered 503, not acknowledged');
      throw new TesseraError(
        'TESSERA_ERR_COMMIT_UNCONFIRMED',
        `no replica of shard ${shard} confirmed the write in time; it was not acknowledged, but the shard's primary may hold it`,
        { retryAfter: 1, shard },
      );
    }
    return result;
  }

  /**
   * Runs `fn` in a transaction on the shard's primary. Returns its result and
   * the primary's WAL position after the commit: the consistency token a
   * client presents to read its own write from a replica.
   */
  async tx<T>(shard: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<{ result: T; lsn: bigint }> {
    return this.withPrimary(shard, async (client) => {
      await client.query('BEGIN');
      let result: T;
      try {
        result = await fn(client);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      // One round trip for both (a multi-statement simple query): the WAL
      // position read after the commit, so it covers the commit record (the
      // read-your-writes token). A failed COMMIT skips the SELECT and throws.
      const [, pos] = (await client.query('COMMIT; SELECT pg_current_wal_lsn()::text AS lsn')) as unknown as [pg.QueryResult, pg.QueryResult<{ lsn: string }>];
      return { result, lsn: parseLsn(pos!.rows[0]!.lsn) };
    });
  }

  /**
   * One statement in a transaction of its own, committed, and the primary's
   * WAL position after the commit, in one round trip: a multi-statement
   * simple query `BEGIN; <statement>; COMMIT; SELECT pg_current_wal_lsn()`.
   * `tx` takes three (BEGIN, the statement, COMMIT with the position), and on
   * loopback every round trip is a socket write whose cost dominates a small
   * write. The simple protocol takes no parameters, so `build` writes the
   * statement with literals quoted by the driver (`client.escapeLiteral`).
   * A failed statement skips the rest and leaves the transaction block
   * aborted: it is rolled back before the client goes back to the pool.
   */
  async commitOne<R extends pg.QueryResultRow>(shard: string, build: (quote: (text: string) => string) => string): Promise<{ result: pg.QueryResult<R>; lsn: bigint }> {
    return this.withPrimary(shard, async (client) => {
      const sql = build((text) => client.escapeLiteral(text));
      let results: pg.QueryResult[];
      try {
        results = (await client.query(`BEGIN; ${sql}; COMMIT; SELECT pg_current_wal_lsn()::text AS lsn`)) as unknown as pg.QueryResult[];
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      const pos = results[3] as pg.QueryResult<{ lsn: string }>;
      return { result: results[1] as pg.QueryResult<R>, lsn: parseLsn(pos.rows[0]!.lsn) };
    });
  }

  /**
   * A read: on a replica that is fresh enough (within the lag limit and, with
   * `minLsn`, replayed past it), else on the primary. A replica that fails is
   * banned until its next probe and the read goes to the primary, so reads
   * never fail because a replica is down or behind.
   */
  async read<T>(shard: string, fn: (client: pg.ClientBase) => Promise<T>, minLsn?: bigint): Promise<{ value: T; source: ReadSource }> {
    const sp = this.#shards.get(shard);
    const replica = sp?.replicas.pick(minLsn);
    if (sp && replica) {
      let client: pg.PoolClient | undefined;
      let detach = () => undefined as void;
      try {
        client = await replica.pool.connect();
        detach = guard(client);
        const value = await fn(client);
        detach();
        client.release();
        servedBy('replica', replica.name);
        this.onOperation(shard, 'replica');
        return { value, source: 'replica' };
      } catch (err) {
        detach();
        client?.release(err as Error);
        // Any replica failure, including a query cancelled by a recovery
        // conflict, is retried on the primary; only an unreachable replica is banned.
        if (isUnavailable(err)) sp.replicas.ban(replica.name);
        this.log.warn({ err, shard, replica: replica.name }, 'replica read failed; using the primary');
      }
    }
    const value = await this.withPrimary(shard, fn);
    servedBy('primary');
    return { value, source: 'primary' };
  }

  /** The replicas of a shard with their measured lag, for metrics and /readyz. */
  replicaStatuses(shard: string) {
    return this.#shards.get(shard)?.replicas.statuses() ?? [];
  }

  /** Re-measures every replica now (tests use it to avoid waiting for the interval). */
  async probeReplicas(): Promise<void> {
    await Promise.all([...this.#shards.values()].map((sp) => sp.replicas.probe()));
  }

  /** One statement on the shard's primary, as a probe: readiness and scrape checks, not counted as the shard's load. */
  async query<R extends pg.QueryResultRow>(shard: string, text: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.withPrimary(shard, (client) => client.query<R>(text, params), 'probe');
  }

  /** Closes every pool. */
  async close(): Promise<void> {
    const pools = [...this.#shards.values()];
    this.#shards.clear();
    await Promise.all(pools.flatMap((sp) => [sp.primary.end().catch(() => undefined), sp.locks.end().catch(() => undefined), sp.replicas.close()]));
  }
}
