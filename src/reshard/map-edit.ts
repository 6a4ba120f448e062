/**
 * Pure edits of a shard map for resharding: who owns a range now, and the map
 * with a range handed to another shard. Ownership always comes from the
 * catalog's ShardMap, the same one the API routes with.
 */
import type { KeyRange } from '../routing/keyrange.js';
import { formatKeyRange, rangesOverlap } from '../routing/keyrange.js';
import type { MapEntry, ShardMap, ShardMapRecord } from '../routing/shard-map.js';
import { ReshardInputError } from './errors.js';

/** The single shard owning every ksid of `range`; refuses a range split across owners. */
export function ownerOfRange(map: ShardMap, range: KeyRange): string {
  const owners = new Set(map.entries.filter((e) => rangesOverlap(e.range, range)).map((e) => e.shard));
  if (owners.size !== 1) {
    throw new ReshardInputError('RANGE_NOT_OWNED', `range ${formatKeyRange(range)} spans several shards (${[...owners].join(', ')}) in shard map v${map.version}; move one shard's part at a time`);
  }
  return [...owners][0] as string;
}

/** Whether every ksid of `range` belongs to `shard` in `map`. */
export function mapAssigns(map: ShardMap, range: KeyRange, shard: string): boolean {
  return map.entries.filter((e) => rangesOverlap(e.range, range)).every((e) => e.shard === shard);
}

/**
 * The map record with `range` assigned to `shard`: entries are cut at the
 * range's bounds, and neighbours with one owner are joined again.
 */
export function reassign(map: ShardMap, range: KeyRange, shard: string): Omit<ShardMapRecord, 'version'> {
  const pieces: MapEntry[] = [];
  for (const e of map.entries) {
    if (!rangesOverlap(e.range, range)) {
      pieces.push(e);
      continue;
    }
    if (e.range.lo < range.lo) pieces.push({ range: { lo: e.range.lo, hi: range.lo }, shard: e.shard });
    const lo = e.range.lo > range.lo ? e.range.lo : range.lo;
    const hi = e.range.hi < range.hi ? e.range.hi : range.hi;
    pieces.push({ range: { lo, hi }, shard });
    if (e.range.hi > range.hi) pieces.push({ range: { lo: range.hi, hi: e.range.hi }, shard: e.shard });
  }
  const joined: MapEntry[] = [];
  for (const p of pieces) {
    const last = joined[joined.length - 1];
    if (last && last.shard === p.shard && last.range.hi === p.range.lo) joined[joined.length - 1] = { range: { lo: last.range.lo, hi: p.range.hi }, shard: p.shard };
    else joined.push(p);
  }
  return {
    keyspace: map.keyspace,
    strategy: map.strategy,
    ranges: joined.map((e) => ({ range: formatKeyRange(e.range), shard: e.shard })),
  };
}
