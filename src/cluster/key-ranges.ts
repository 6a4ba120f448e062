/**
 * Key ranges for seeding a local stack: the 64-bit keyspace-id space split
 * evenly and written the way Vitess names shards (`-80`, `80-`). Parsing,
 * formatting and the exact split are routing's (`routing/keyrange.ts`); this
 * adds only Vitess' short names.
 */
import { formatBound, formatKeyRange, splitEvenly } from '../routing/keyrange.js';

/**
 * Splits the keyspace into `count` contiguous, near-equal ranges, returned as
 * range names: 2 → [`-80`, `80-`]; 3 → [`-55`, `55-aa`, `aa-`]; 4 → [`-40`, …].
 *
 * By default each inner boundary is cut to the shortest whole-byte prefix that
 * keeps all of them distinct — how Vitess names shards (`55` is off from a
 * third by < 0.4 %, but readable). With `exact`, boundaries are routing's
 * exact split, written as the shortest exact hex (`5555555555555555`).
 */
export function evenRanges(count: number, exact = false): string[] {
  if (!Number.isInteger(count) || count < 1 || count > 256) throw new RangeError(`shard count must be 1..256, got ${count}`);
  const ranges = splitEvenly(count);
  if (exact || count === 1) return ranges.map(formatKeyRange);
  const inner = ranges.slice(1).map((r) => r.lo);
  const names = shortestDistinctPrefixes(inner);
  return ranges.map((_, i) => `${names[i - 1] ?? ''}-${names[i] ?? ''}`);
}

/**
 * For sorted boundaries, cuts every one to the shortest byte length at which
 * they all stay distinct and non-zero, then formats them (trailing zero bytes
 * trimmed, so an exact `80` stays `80`).
 */
function shortestDistinctPrefixes(bounds: bigint[]): string[] {
  for (let bytes = 1; bytes < 8; bytes++) {
    const shift = BigInt(64 - bytes * 8);
    const cut = bounds.map((b) => (b >> shift) << shift);
    if (new Set(cut).size === cut.length && cut.every((b) => b > 0n)) return cut.map(formatBound);
  }
  return bounds.map(formatBound);
}
