import type { ReadSource } from '../db/pools.js';
import type { Metrics } from '../observability/metrics.js';
import { inSpan, tracingHere } from '../observability/tracing.js';
import type { CacheEntry } from './entry.js';
import { compareVersions } from './entry.js';
import type { InvalidationBus } from './invalidation.js';
import type { L1 } from './l1.js';
import type { L2 } from './l2.js';

/** What a database load returns to the cache. */
export interface Loaded {
  entry: CacheEntry;
  source: ReadSource;
  shard: string;
}

/** A read through the tiers: the entry, the tier that answered and, on a miss, the source. */
export interface CachedRead {
  entry: CacheEntry;
  tier: 'l1' | 'l2' | 'miss';
  source?: ReadSource;
  shard?: string;
}

/**
 * Reads go L1 → L2 → database; writes record a version floor in every tier.
 * Concurrent misses for one key in this process share one load
 * (single-flight). A load from a replica that is older than a known write is
 * repeated on the primary, and fills never replace a newer version.
 */
export class TieredCache {
  readonly #inflight = new Map<string, Promise<CachedRead>>();
  #bus: InvalidationBus | undefined;
  // Counter cells of the L1 path, bound once: prom-client hashes a label
  // object on every call, which an L1 hit notices (observability/hot-metrics.ts).
  readonly #l1Hit;
  readonly #l1Miss;
  readonly #l1Read;
  readonly #l2Hit;
  readonly #l2Miss;
  readonly #l2Read;

  constructor(
    readonly l1: L1,
    readonly l2: L2,
    bus: InvalidationBus | undefined,
    private readonly metrics: Metrics,
  ) {
    this.#bus = bus;
    this.#l1Hit = metrics.cacheRequestCells.cell({ tier: 'l1', result: 'hit' });
    this.#l1Miss = metrics.cacheRequestCells.cell({ tier: 'l1', result: 'miss' });
    this.#l1Read = metrics.readCells.cell({ source: 'l1' });
    this.#l2Hit = metrics.cacheRequestCells.cell({ tier: 'l2', result: 'hit' });
    this.#l2Miss = metrics.cacheRequestCells.cell({ tier: 'l2', result: 'miss' });
    this.#l2Read = metrics.readCells.cell({ source: 'l2' });
  }

  /** Connects the invalidation channel (built after the cache, since it calls back into it). */
  attachBus(bus: InvalidationBus): void {
    this.#bus = bus;
  }

  /**
   * Reads `key`. `load(primary)` reads the database (a fresh replica, or the
   * primary when asked). `fresh` (a read carrying a consistency token) skips
   * both tiers so that no entry older than the client's write can answer.
   */
  read(key: string, load: (primary: boolean) => Promise<Loaded>, fresh = false): Promise<CachedRead> {
    if (!tracingHere()) return this.#read(key, load, fresh);
    // Tracing on: one span per read, named for the tier that answered.
    return inSpan('cache.read', { 'tessera.cache.key': key, 'tessera.cache.fresh': fresh }, async (span) => {
      const got = await this.#read(key, load, fresh);
      span?.setAttribute('tessera.cache.tier', got.tier);
      span?.updateName(`cache.read ${got.tier}`);
      return got;
    });
  }

  async #read(key: string, load: (primary: boolean) => Promise<Loaded>, fresh: boolean): Promise<CachedRead> {
    if (!fresh) {
      const hit = this.l1.get(key);
      if (hit) {
        this.#l1Hit.inc();
        this.#l1Read.inc();
        return { entry: hit, tier: 'l1' };
      }
      this.#l1Miss.inc();
    }
    const flightKey = fresh ? `${key}#fresh` : key;
    const running = this.#inflight.get(flightKey);
    // Another request of this process is loading the key: wait for its load (a span of its own when traced).
    if (running) return tracingHere() ? inSpan('cache.singleflight.wait', { 'tessera.cache.key': key }, () => running) : running;
    const flight = this.#load(key, load, fresh).finally(() => this.#inflight.delete(flightKey));
    this.#inflight.set(flightKey, flight);
    return flight;
  }

  async #load(key: string, load: (primary: boolean) => Promise<Loaded>, fresh: boolean): Promise<CachedRead> {
    let floor = this.l1.floorOf(key);
    if (!fresh) {
      const inL2 = await this.l2.get(key);
      if (inL2 && inL2.kind !== 'floor') {
        this.#l2Hit.inc();
        this.#l2Read.inc();
        this.l1.fill(key, inL2);
        return { entry: inL2, tier: 'l2' };
      }
      this.#l2Miss.inc();
      if (inL2 && (!floor || compareVersions(inL2, floor) > 0)) floor = inL2;
    }
    let got = await load(false);
    if (floor && got.source === 'replica' && compareVersions(got.entry, floor) < 0) {
      // The replica has not replayed a write we know of: ask the primary.
      got = await load(true);
    }
    this.metrics.readCells.cell({ source: got.source }).inc();
    if (got.entry.kind === 'data' || got.entry.kind === 'nf') this.#fill(key, got.entry);
    return { entry: got.entry, tier: 'miss', source: got.source, shard: got.shard };
  }

  /**
   * Fills both tiers with a loaded entry, with the L2 fill off the response
   * path: a miss then costs one Redis round trip (the GET) before the answer,
   * not two. Neither tier takes an entry older than a write it knows of: L1
   * checks the floors this process has heard of now; L2's compare-and-set
   * checks what Redis holds, and when it refuses the entry as stale (another
   * replica wrote meanwhile and its invalidation is on its way), the L1 copy
   * is withdrawn too.
   */
  #fill(key: string, entry: CacheEntry): void {
    const inL1 = this.l1.fill(key, entry);
    if (!inL1) this.metrics.fillsRejected.inc({ tier: 'l1' });
    void this.l2.fill(key, entry).then(
      (res) => {
        if (res !== 'stale') return;
        this.metrics.fillsRejected.inc({ tier: 'l2' });
        if (inL1) this.l1.withdraw(key, entry);
      },
      () => undefined, // Redis failures read as misses; a fill that did not happen costs a later miss
    );
  }

  /**
   * After a committed write: drop the key here, raise its floor in L2 and tell
   * every replica. `kind` is `gone` for a deletion that no fill may undo.
   */
  async written(key: string, version: { e: number; v: number }, kind: 'floor' | 'gone' = 'floor'): Promise<void> {
    const floor: CacheEntry = { kind, e: version.e, v: version.v };
    this.l1.invalidate(key, floor);
    // One Redis command: the floor, then the invalidation (Redis has handed it to every
    // subscriber's socket when it answers, so a read after the acknowledgement finds L1 cleared).
    const published = await this.l2.floor(key, floor, this.#bus?.envelope({ key, ...floor, kind }));
    if (published && this.#bus) this.metrics.invalidationsSent.inc();
  }

  /** Applies another replica's invalidation to L1. */
  applyRemote(key: string, version: { e: number; v: number }): void {
    this.l1.invalidate(key, version);
    this.metrics.invalidationsReceived.inc();
  }
}
