/**
 * Keyspace ids (ksid) are unsigned 64-bit integers; shards own half-open
 * ranges `[lo, hi)` of them. Ranges are written the Vitess way: hex prefixes
 * of the 8-byte big-endian ksid, an empty side meaning "open" (`-80`, `80-`,
 * `40-80`).
 */

/** One past the largest keyspace id. */
export const KSID_END = 1n << 64n;
const SIGN_BIT = 1n << 63n;

/** A half-open range of keyspace ids; `hi` may be {@link KSID_END}. */
export interface KeyRange {
  lo: bigint;
  hi: bigint;
}

/** The whole keyspace. */
export const FULL_RANGE: KeyRange = { lo: 0n, hi: KSID_END };

function parseBound(hex: string, open: bigint, text: string): bigint {
  if (hex === '') return open;
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex) || hex.length % 2 !== 0) {
    throw new RangeError(`invalid key range "${text}": bounds are whole bytes of hex, at most 8 bytes`);
  }
  return BigInt(`0x${hex.padEnd(16, '0')}`);
}

/** Parses `"40-80"`, `"-80"`, `"80-"` or `"-"` (the whole keyspace). */
export function parseKeyRange(text: string): KeyRange {
  const parts = text.split('-');
  if (parts.length !== 2) throw new RangeError(`invalid key range "${text}": expected <lo>-<hi>`);
  const lo = parseBound(parts[0] ?? '', 0n, text);
  const hi = parseBound(parts[1] ?? '', KSID_END, text);
  if (lo >= hi) throw new RangeError(`invalid key range "${text}": empty (lo must be below hi)`);
  return { lo, hi };
}

/** Formats a boundary as the shortest whole-byte hex prefix that is exact. */
export function formatBound(ksid: bigint): string {
  if (ksid === 0n || ksid === KSID_END) return '';
  let hex = ksid.toString(16).padStart(16, '0');
  while (hex.endsWith('00')) hex = hex.slice(0, -2);
  return hex;
}

/** Formats a range as `lo-hi` (Vitess shard-name style). */
export function formatKeyRange(range: KeyRange): string {
  return `${formatBound(range.lo)}-${formatBound(range.hi)}`;
}

/** Whether `ksid` lies in `range`. */
export function rangeContains(range: KeyRange, ksid: bigint): boolean {
  return ksid >= range.lo && ksid < range.hi;
}

/** Whether two ranges share at least one keyspace id. */
export function rangesOverlap(a: KeyRange, b: KeyRange): boolean {
  return a.lo < b.hi && b.lo < a.hi;
}

/**
 * The ksid as PostgreSQL stores it: a signed bigint with the sign bit flipped,
 * so that signed order in the database equals unsigned ksid order.
 */
export function ksidToSql(ksid: bigint): string {
  return (ksid - SIGN_BIT).toString();
}

/** Inverse of {@link ksidToSql}. */
export function ksidFromSql(value: string | bigint): bigint {
  return BigInt(value) + SIGN_BIT;
}

/** A range's upper bound for SQL: `null` stands for the end of the keyspace. */
export function hiToSql(hi: bigint): string | null {
  return hi === KSID_END ? null : ksidToSql(hi);
}

/** Splits the keyspace into `n` equal ranges (the last takes the remainder). */
export function splitEvenly(n: number): KeyRange[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError('shard count must be a positive integer');
  const step = KSID_END / BigInt(n);
  return Array.from({ length: n }, (_, i) => ({
    lo: step * BigInt(i),
    hi: i === n - 1 ? KSID_END : step * BigInt(i + 1),
  }));
}

/** The ksid as 16 hex digits, for logs, headers and tests. */
export function ksidHex(ksid: bigint): string {
  return ksid.toString(16).padStart(16, '0');
}
