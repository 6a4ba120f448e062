/**
 * The moving range in SQL: as a literal predicate (publication row filters
 * take no parameters) and as parameter values. Bounds are sign-flipped
 * ksids (`ksidToSql`); an open side simply has no bound.
 */
import type { KeyRange } from '../routing/keyrange.js';
import { KSID_END, hiToSql, ksidToSql } from '../routing/keyrange.js';

/** Every table that holds sharded rows, in the order rows are deleted (children first). */
export const SHARDED_TABLES = ['documents', 'users', 'email_lookup'] as const;
export type ShardedTable = (typeof SHARDED_TABLES)[number];

/** Primary-key columns of each sharded table (for row-level diffs and batched deletes). */
export const PRIMARY_KEYS: Record<ShardedTable, string[]> = {
  documents: ['ksid', 'user_id', 'key'],
  users: ['ksid', 'id'],
  email_lookup: ['ksid', 'email'],
};

/** `(ksid >= … AND ksid < …)` with literal bounds, for a publication row filter. */
export function rangeFilterLiteral(range: KeyRange, column = 'ksid'): string {
  const parts: string[] = [];
  // ksidToSql yields digits with an optional minus sign only: safe to inline.
  if (range.lo > 0n) parts.push(`${column} >= ${ksidToSql(range.lo)}`);
  if (range.hi < KSID_END) parts.push(`${column} < ${ksidToSql(range.hi)}`);
  return parts.length ? `(${parts.join(' AND ')})` : '(true)';
}

/** The range as query parameters: `[lo, hi]`, `hi` null for the end of the keyspace. */
export function rangeParams(range: KeyRange): [string, string | null] {
  return [ksidToSql(range.lo), hiToSql(range.hi)];
}

/** Predicate using parameters `$n` (lo) and `$n+1` (hi, NULL = open). */
export function rangePredicate(firstParam: number, column = 'ksid'): string {
  return `${column} >= $${firstParam} AND ($${firstParam + 1}::bigint IS NULL OR ${column} < $${firstParam + 1}::bigint)`;
}

/** Splits a range into `n` contiguous sub-ranges of (nearly) equal width. */
export function subRanges(range: KeyRange, n: number): KeyRange[] {
  const width = range.hi - range.lo;
  const parts = BigInt(Math.max(1, Math.min(n, Number(width < 1024n ? width : 1024n))));
  const step = width / parts;
  return Array.from({ length: Number(parts) }, (_, i) => ({
    lo: range.lo + step * BigInt(i),
    hi: BigInt(i) === parts - 1n ? range.hi : range.lo + step * BigInt(i + 1),
  }));
}
