/**
 * The moving range in a shard's own `tessera_owned_ranges` (its fence): split
 * out as a row of its own, fenced at cutover, released at cleanup. Each step
 * is idempotent.
 */
import type pg from 'pg';
import type { KeyRange } from '../routing/keyrange.js';
import { formatKeyRange, hiToSql, ksidToSql } from '../routing/keyrange.js';
import { ReshardError } from './errors.js';

interface Row {
  lo: string;
  hi: string | null;
  fenced: boolean;
}

/**
 * Makes `range` its own row on the shard (unfenced), cutting (and, after an
 * earlier move or rollback, joining) the rows that hold it. Writers of those
 * rows are waited for (FOR UPDATE); one that was waiting and whose row was
 * replaced gets the fence error and is retried by the app, invisibly to its
 * client.
 */
export async function isolateRange(db: pg.ClientBase, range: KeyRange): Promise<void> {
  const lo = BigInt(ksidToSql(range.lo));
  const hiSql = hiToSql(range.hi);
  const hi = hiSql === null ? null : BigInt(hiSql);
  await db.query('BEGIN');
  try {
    const res = await db.query<Row>(
      `SELECT lo::text, hi::text, fenced FROM tessera_owned_ranges
        WHERE (hi IS NULL OR hi > $1) AND ($2::bigint IS NULL OR lo < $2::bigint) ORDER BY lo FOR UPDATE`,
      [lo.toString(), hiSql],
    );
    const rows = res.rows.map((r) => ({ lo: BigInt(r.lo), hi: r.hi === null ? null : BigInt(r.hi), fenced: r.fenced }));
    const first = rows[0];
    const last = rows[rows.length - 1];
    const contiguous = rows.every((r, i) => i === 0 || rows[i - 1]?.hi === r.lo);
    const covers = first && last && first.lo <= lo && (last.hi === null || (hi !== null && last.hi >= hi)) && contiguous;
    if (!covers) throw new ReshardError(`the source shard does not record owning all of ${formatKeyRange(range)} in tessera_owned_ranges`);
    if (rows.length === 1 && first.lo === lo && first.hi === hi) {
      await db.query('COMMIT');
      return;
    }
    if (rows.some((r) => r.fenced)) throw new ReshardError(`part of ${formatKeyRange(range)} is fenced on the source by another move`);
    await db.query('DELETE FROM tessera_owned_ranges WHERE lo = ANY($1::bigint[])', [rows.map((r) => r.lo.toString())]);
    const insert = (a: bigint, b: bigint | null) =>
      db.query('INSERT INTO tessera_owned_ranges (lo, hi, fenced) VALUES ($1, $2, false)', [a.toString(), b === null ? null : b.toString()]);
    if (first.lo < lo) await insert(first.lo, lo);
    await insert(lo, hi);
    if (hi !== null && (last.hi === null || last.hi > hi)) await insert(hi, last.hi);
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Sets the range's row fenced (or not). Fencing waits for every in-flight
 * writer of the range (they hold FOR SHARE on the row), so when it returns no
 * write to the range can commit here any more. Returns whether the row exists.
 */
export async function setFenced(db: pg.ClientBase, range: KeyRange, fenced: boolean): Promise<boolean> {
  const res = await db.query('UPDATE tessera_owned_ranges SET fenced = $2 WHERE lo = $1 AND hi IS NOT DISTINCT FROM $3::bigint', [ksidToSql(range.lo), fenced, hiToSql(range.hi)]);
  return (res.rowCount ?? 0) > 0;
}

/** Whether the shard records the range as its own row, and fenced. */
export async function rangeRow(db: pg.ClientBase, range: KeyRange): Promise<{ fenced: boolean } | null> {
  const res = await db.query<{ fenced: boolean }>('SELECT fenced FROM tessera_owned_ranges WHERE lo = $1 AND hi IS NOT DISTINCT FROM $2::bigint', [ksidToSql(range.lo), hiToSql(range.hi)]);
  return res.rows[0] ?? null;
}

/**
 * Deletes the range's rows on a shard that no longer owns them, in batches
 * (short transactions, no long locks), children first. The fence is bypassed
 * for these deletes only. Returns rows deleted per table.
 */
export async function deleteRangeRows(db: pg.ClientBase, range: KeyRange, batch = 5000): Promise<Record<string, number>> {
  const [lo, hi] = [ksidToSql(range.lo), hiToSql(range.hi)];
  const out: Record<string, number> = {};
  await db.query("SET tessera.bypass_fence = 'on'");
  try {
    for (const table of ['documents', 'users', 'email_lookup']) {
      out[table] = 0;
      for (;;) {
        const res = await db.query(
          `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${table} WHERE ksid >= $1 AND ($2::bigint IS NULL OR ksid < $2::bigint) LIMIT $3))`,
          [lo, hi, batch],
        );
        out[table] += res.rowCount ?? 0;
        if ((res.rowCount ?? 0) < batch) break;
      }
    }
  } finally {
    await db.query('RESET tessera.bypass_fence');
  }
  return out;
}
