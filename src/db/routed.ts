import type pg from 'pg';
import type { Span } from '@opentelemetry/api';
import { TesseraError } from '../errors/catalog.js';
import { retrySpan, routedTo, shardOperation } from '../observability/shard-spans.js';
import { tracingHere } from '../observability/tracing.js';
import type { KeyRange } from '../routing/keyrange.js';
import type { Router } from '../routing/router.js';
import { WrongShardError } from './errors.js';
import type { ConsistencyToken } from './lsn.js';
import type { ReadSource, ShardPools } from './pools.js';

/** What a routed operation gets: the shard it runs on and a client there. */
export interface RoutedContext {
  shard: string;
  client: pg.PoolClient;
}

/** The result of a routed operation, with the shard that served it. */
export interface Routed<T> {
  shard: string;
  value: T;
}

/** A committed write: also the primary's WAL position after its commit. */
export interface RoutedWrite<T> extends Routed<T> {
  lsn: bigint;
}

/** A routed read: also where it was served. */
export interface RoutedRead<T> extends Routed<T> {
  source: ReadSource;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs statements on the shard that owns a keyspace id. When the shard's fence
 * refuses a write (the map we routed with is stale), it reloads the map and
 * retries on the owner; while a cutover holds the range fenced and the new map
 * is not yet published, it keeps reloading with backoff for a bounded time, so
 * a client sees a short delay rather than an error.
 */
export class RoutedDb {
  constructor(
    private readonly router: Router,
    readonly pools: ShardPools,
    private readonly reloadMap: () => Promise<void>,
    private readonly opts: { fenceWaitMs: number; onWrongShard?: (shard: string) => void } = { fenceWaitMs: 5000 },
  ) {}

  /** Runs `fn` in a transaction on the primary owning `ksid`. */
  async tx<T>(ksid: bigint, fn: (ctx: RoutedContext) => Promise<T>): Promise<RoutedWrite<T>> {
    const { shard, value } = await this.#withOwner('tx', ksid, (shard) => this.pools.tx(shard, (client) => fn({ shard, client })));
    return { shard, value: value.result, lsn: value.lsn };
  }

  /** {@link ShardPools.commitOne} on the shard owning `ksid`, retried like {@link tx}; `shard` is the owner it runs on. */
  async commitOne<R extends pg.QueryResultRow>(ksid: bigint, build: (shard: string, quote: (text: string) => string) => string): Promise<RoutedWrite<pg.QueryResult<R>>> {
    const { shard, value } = await this.#withOwner('tx', ksid, (shard) => this.pools.commitOne<R>(shard, (quote) => build(shard, quote)));
    return { shard, value: value.result, lsn: value.lsn };
  }

  /**
   * A read on the shard owning `ksid`: a fresh replica or the primary. With a
   * token for that shard, only a source replayed past the token's position.
   */
  async read<T>(ksid: bigint, fn: (client: pg.ClientBase) => Promise<T>, token?: ConsistencyToken): Promise<RoutedRead<T>> {
    const { shard, value } = await this.#withOwner('read', ksid, (shard) => {
      const minLsn = token && token.shard === shard ? token.lsn : undefined;
      return this.pools.read(shard, fn, minLsn);
    });
    return { shard, value: value.value, source: value.source };
  }

  /** Runs `fn` with a client (autocommit) on the primary owning `ksid`. */
  onPrimary<T>(ksid: bigint, fn: (ctx: RoutedContext) => Promise<T>): Promise<Routed<T>> {
    return this.#withOwner('primary', ksid, (shard) => this.pools.withPrimary(shard, (client) => fn({ shard, client })));
  }

  /** Like {@link onPrimary}, on a session of the lock pool: for holding a lock while writing elsewhere. */
  onLockSession<T>(ksid: bigint, fn: (ctx: RoutedContext) => Promise<T>): Promise<Routed<T>> {
    return this.#withOwner('lock', ksid, (shard) => this.pools.withPrimary(shard, (client) => fn({ shard, client }), 'locks'));
  }

  /** The shard that owns `ksid` under the current map. */
  ownerOf(ksid: bigint): string {
    const dest = this.router.routeKsid(ksid);
    if (dest.kind !== 'shard') throw new TesseraError('TESSERA_ERR_NOT_READY', 'no shard owns the key');
    return dest.shard;
  }

  /**
   * Runs `run` on the shard that owns `ksid`, and again (on the owner then)
   * while the key is between homes: its range moving to another shard (the
   * fence refuses the write: reload the map), or its shard's primary moving
   * in a planned failover (writes are fenced, then the old primary stops:
   * reload the endpoints). Both wait at most `fenceWaitMs`. Retrying is safe:
   * a fence refuses a write before it changes anything, and once a failover
   * has fenced the shard no write can commit on the old primary.
   */
  #withOwner<T>(op: string, ksid: bigint, run: (shard: string) => Promise<T>): Promise<Routed<T>> {
    if (!tracingHere()) return this.#attempts(op, ksid, run, undefined);
    return shardOperation(op, (span) => this.#attempts(op, ksid, run, span));
  }

  async #attempts<T>(op: string, ksid: bigint, run: (shard: string) => Promise<T>, span: Span | undefined): Promise<Routed<T>> {
    const deadline = Date.now() + this.opts.fenceWaitMs;
    let pause = 20;
    for (let attempt = 1; ; attempt++) {
      const shard = this.ownerOf(ksid);
      routedTo(span, op, shard, this.router.map.version);
      // Read before the attempt too: the failover's publication may land while it fails on the old primary.
      const switchingBefore = this.pools.switching(shard);
      try {
        return { shard, value: await run(shard) };
      } catch (err) {
        const moving = err instanceof WrongShardError;
        const switching = switchingBefore || this.pools.switching(shard);
        if (!moving && !(switching && err instanceof TesseraError && err.code === 'TESSERA_ERR_SHARD_UNAVAILABLE')) throw err;
        if (moving) this.opts.onWrongShard?.(shard);
        if (Date.now() >= deadline) {
          const detail = moving ? 'the key is moving between shards; retry shortly' : `shard ${shard} is changing primaries; retry shortly`;
          throw new TesseraError('TESSERA_ERR_SHARD_UNAVAILABLE', detail, { retryAfter: 1, cause: err, shard });
        }
        const wait = async () => {
          const before = this.router.map.version;
          await this.reloadMap().catch(() => undefined);
          if (this.router.map.version === before) {
            await sleep(pause);
            // Short: a cutover or a failover ends with a publication the apps hear within milliseconds.
            pause = Math.min(pause * 2, 100);
          }
        };
        if (span) await retrySpan(moving ? 'stale_map' : 'failover', shard, attempt, wait);
        else await wait();
      }
    }
  }

  /**
   * Scatter: runs `fn` on every shard of the map at once, each with the ranges
   * it owns in that map (so rows being copied during a reshard are not seen twice).
   */
  async scatter<T>(fn: (shard: string, ranges: KeyRange[], client: pg.ClientBase) => Promise<T>): Promise<Routed<T>[]> {
    const map = this.router.map;
    const readShard = async (shard: string) => (await this.pools.read(shard, (client) => fn(shard, map.rangesOf(shard), client))).value;
    const traced = tracingHere();
    return Promise.all(
      map.shards().map(async (shard) => ({
        shard,
        value: traced
          ? await shardOperation('read', (span) => {
            routedTo(span, 'read', shard, map.version);
            return readShard(shard);
          })
          : await readShard(shard),
      })),
    );
  }
}
