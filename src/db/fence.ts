import type pg from 'pg';
import type { KeyRange } from '../routing/keyrange.js';
import { hiToSql, ksidToSql } from '../routing/keyrange.js';

/** A range row of `tessera_owned_ranges` in SQL form. */
export interface OwnedRangeRow {
  lo: string;
  hi: string | null;
  fenced: boolean;
}

/** The ranges recorded on a shard as owned (fenced or not). */
export async function ownedRanges(client: pg.ClientBase): Promise<OwnedRangeRow[]> {
  const res = await client.query<OwnedRangeRow>('SELECT lo::text AS lo, hi::text AS hi, fenced FROM tessera_owned_ranges ORDER BY lo');
  return res.rows;
}

/** Records that the shard owns `ranges` (writable). Idempotent per range. */
export async function claimRanges(client: pg.ClientBase, ranges: KeyRange[]): Promise<void> {
  for (const r of ranges) {
    await client.query(
      `INSERT INTO tessera_owned_ranges (lo, hi, fenced) VALUES ($1, $2, false)
       ON CONFLICT (lo) DO UPDATE SET hi = EXCLUDED.hi, fenced = false`,
      [ksidToSql(r.lo), hiToSql(r.hi)],
    );
  }
}

/** Removes a range from the shard's ownership (used by resharding and tests). */
export async function releaseRange(client: pg.ClientBase, range: KeyRange): Promise<void> {
  await client.query('DELETE FROM tessera_owned_ranges WHERE lo = $1', [ksidToSql(range.lo)]);
}
