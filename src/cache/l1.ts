import { LRUCache } from 'lru-cache';
import type { CacheEntry } from './entry.js';
import { compareVersions, jittered } from './entry.js';

/** L1 settings. */
export interface L1Options {
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
  negativeTtlMs: number;
  jitter: number;
  /** How long a write's version floor is remembered: longer than any replica may lag. */
  floorTtlMs: number;
}

/**
 * The in-process tier: an lru-cache bounded by entries and by bytes, with
 * short jittered TTLs. Beside it, the version floors of recent writes (local
 * or announced by other replicas), so that a fill racing an invalidation
 * cannot bring back a version older than a write this process has heard of.
 */
export class L1 {
  readonly #entries: LRUCache<string, CacheEntry>;
  readonly #floors: LRUCache<string, { e: number; v: number }>;

  constructor(private readonly opts: L1Options) {
    this.#entries = new LRUCache<string, CacheEntry>({
      max: Math.max(1, opts.maxEntries),
      maxSize: Math.max(1, opts.maxBytes),
      // JSON text dominates an entry's footprint; strings are UTF-16 in memory.
      sizeCalculation: (entry, key) => 64 + 2 * (key.length + (entry.json?.length ?? 0)),
      ttlAutopurge: false,
    });
    this.#floors = new LRUCache({ max: 100_000, ttl: opts.floorTtlMs });
  }

  get(key: string): CacheEntry | undefined {
    return this.#entries.get(key);
  }

  /** Stores an entry unless a known write is newer. Returns false when refused as stale. */
  fill(key: string, entry: CacheEntry): boolean {
    const floor = this.#floors.get(key);
    if (floor && compareVersions(entry, floor) < 0) return false;
    const ttl = entry.kind === 'nf' ? this.opts.negativeTtlMs : this.opts.ttlMs;
    if (ttl <= 0) return true;
    this.#entries.set(key, entry, { ttl: jittered(ttl, this.opts.jitter) });
    return true;
  }

  /** Drops `entry` if it is still the one held for `key` (a fill that turned out stale). */
  withdraw(key: string, entry: CacheEntry): void {
    if (this.#entries.peek(key) === entry) this.#entries.delete(key);
  }

  /** Drops a key and remembers the version a write reached. */
  invalidate(key: string, floor: { e: number; v: number }): void {
    this.#entries.delete(key);
    const known = this.#floors.get(key);
    if (!known || compareVersions(floor, known) > 0) this.#floors.set(key, { e: floor.e, v: floor.v });
  }

  /** The newest write version this process has heard of for `key`. */
  floorOf(key: string): CacheEntry | undefined {
    const f = this.#floors.get(key);
    return f && { kind: 'floor', e: f.e, v: f.v };
  }

  /** Forgets every entry (after invalidations may have been missed). */
  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#entries.calculatedSize;
  }
}
