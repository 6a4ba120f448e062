/** Rows and bytes of a ksid range on one shard, per table. */
import type pg from 'pg';
import type { KeyRange } from '../routing/keyrange.js';
import { sqlState } from '../db/errors.js';
import { SHARDED_TABLES, rangeParams, rangePredicate, type ShardedTable } from './range-sql.js';

/** Rows and bytes of one table in a range. */
export interface TableSize {
  table: ShardedTable;
  rows: number;
  bytes: number;
}

/** Counts the rows of `range` on the connected shard; a shard without the schema yet counts as empty. */
export async function rangeSizes(db: pg.ClientBase, range: KeyRange): Promise<TableSize[]> {
  const out: TableSize[] = [];
  for (const table of SHARDED_TABLES) {
    try {
      const res = await db.query<{ rows: string; bytes: string }>(
        `SELECT count(*)::text AS rows, coalesce(sum(pg_column_size(t.*)), 0)::text AS bytes FROM ${table} t WHERE ${rangePredicate(1)}`,
        rangeParams(range),
      );
      const row = res.rows[0];
      out.push({ table, rows: Number(row?.rows ?? 0), bytes: Number(row?.bytes ?? 0) });
    } catch (err) {
      if (sqlState(err) !== '42P01') throw err; // undefined_table: a brand-new shard
      out.push({ table, rows: 0, bytes: 0 });
    }
  }
  return out;
}

/** Sum of rows and bytes over tables. */
export function totals(sizes: TableSize[]): { rows: number; bytes: number } {
  return sizes.reduce((acc, s) => ({ rows: acc.rows + s.rows, bytes: acc.bytes + s.bytes }), { rows: 0, bytes: 0 });
}
