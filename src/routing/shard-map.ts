import type { KeyRange } from './keyrange.js';
import { KSID_END, formatKeyRange, parseKeyRange } from './keyrange.js';

/** One row of a shard map: a key range and the shard that owns it. */
export interface MapEntry {
  range: KeyRange;
  shard: string;
}

/** A shard map as stored in the catalog (ranges in Vitess notation). */
export interface ShardMapRecord {
  version: number;
  keyspace: string;
  strategy: string;
  ranges: { range: string; shard: string }[];
}

/**
 * An immutable, validated, versioned shard map: sorted ranges that tile the
 * whole keyspace with no gap or overlap. Lookup is a binary search.
 */
export class ShardMap {
  readonly version: number;
  readonly keyspace: string;
  readonly strategy: string;
  readonly entries: readonly MapEntry[];

  constructor(version: number, keyspace: string, strategy: string, entries: MapEntry[]) {
    const sorted = [...entries].sort((a, b) => (a.range.lo < b.range.lo ? -1 : a.range.lo > b.range.lo ? 1 : 0));
    let expected = 0n;
    for (const e of sorted) {
      if (e.range.lo !== expected) {
        const what = e.range.lo > expected ? 'gap before' : 'overlap at';
        throw new RangeError(`shard map v${version}: ${what} ${formatKeyRange(e.range)}`);
      }
      expected = e.range.hi;
    }
    if (expected !== KSID_END) throw new RangeError(`shard map v${version}: the keyspace is not covered to its end`);
    this.version = version;
    this.keyspace = keyspace;
    this.strategy = strategy;
    this.entries = sorted;
  }

  /** Builds a map from its catalog record. */
  static fromRecord(rec: ShardMapRecord): ShardMap {
    return new ShardMap(
      rec.version,
      rec.keyspace,
      rec.strategy,
      rec.ranges.map((r) => ({ range: parseKeyRange(r.range), shard: r.shard })),
    );
  }

  /** The catalog record of this map. */
  toRecord(): ShardMapRecord {
    return {
      version: this.version,
      keyspace: this.keyspace,
      strategy: this.strategy,
      ranges: this.entries.map((e) => ({ range: formatKeyRange(e.range), shard: e.shard })),
    };
  }

  /** The entry whose range holds `ksid` (the map covers the keyspace, so there is one). */
  entryFor(ksid: bigint): MapEntry {
    let lo = 0;
    let hi = this.entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.entries[mid] as MapEntry).range.lo <= ksid) lo = mid;
      else hi = mid - 1;
    }
    return this.entries[lo] as MapEntry;
  }

  /** Every shard named in the map, in range order, once each. */
  shards(): string[] {
    return [...new Set(this.entries.map((e) => e.shard))];
  }

  /** The ranges a shard owns in this map. */
  rangesOf(shard: string): KeyRange[] {
    return this.entries.filter((e) => e.shard === shard).map((e) => e.range);
  }
}
