/**
 * Verify (Vitess VDiff style): per sub-range and table, row count and a
 * 64-bit checksum (sum of the first 8 bytes of md5 of each row's text) on both
 * sides. Each comparison reads the source, then waits until the target has
 * applied the source's WAL position at that moment, then reads the target;
 * a sub-range that a live write changed in between is read again. Sub-ranges
 * that still differ get a row-by-row diff: mismatched, extra on source,
 * extra on target.
 */
import type pg from 'pg';
import type { KeyRange } from '../routing/keyrange.js';
import { ksidToSql } from '../routing/keyrange.js';
import { PRIMARY_KEYS, SHARDED_TABLES, rangeParams, rangePredicate, subRanges, type ShardedTable } from './range-sql.js';
import type { TableDiff, VerifyResult } from './workflow.js';

/** Options of {@link verifyRange}. */
export interface VerifyOptions {
  /** Sub-ranges to compare separately. @default 16 */
  subRanges?: number;
  /** Re-reads of a differing sub-range before it counts as a difference. @default 8 */
  maxRechecks?: number;
  /** Resolves once the target has applied everything the source had committed when called. */
  caughtUp: () => Promise<void>;
  /** Called after each sub-range (progress). */
  onSubRange?: (done: number, total: number) => void | Promise<void>;
}

interface Sum {
  n: number;
  h: string;
}

const ROW_HASH = `('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint`;

/** Count and checksum of every bucket of `bounds` (lower bounds, ascending) in one scan. */
async function bucketSums(db: pg.ClientBase, table: ShardedTable, range: KeyRange, parts: KeyRange[]): Promise<Sum[]> {
  const res = await db.query<{ b: number; n: string; h: string }>(
    `SELECT width_bucket(ksid, $3::bigint[]) AS b, count(*)::text AS n, sum(${ROW_HASH})::text AS h
       FROM ${table} t WHERE ${rangePredicate(1)} GROUP BY 1`,
    [...rangeParams(range), parts.map((p) => ksidToSql(p.lo))],
  );
  const out: Sum[] = parts.map(() => ({ n: 0, h: '0' }));
  for (const r of res.rows) out[r.b - 1] = { n: Number(r.n), h: r.h };
  return out;
}

async function sumOf(db: pg.ClientBase, table: ShardedTable, range: KeyRange): Promise<Sum> {
  const res = await db.query<{ n: string; h: string | null }>(
    `SELECT count(*)::text AS n, sum(${ROW_HASH})::text AS h FROM ${table} t WHERE ${rangePredicate(1)}`,
    rangeParams(range),
  );
  const row = res.rows[0];
  return { n: Number(row?.n ?? 0), h: row?.h ?? '0' };
}

/** Row hashes by primary key, for the row-level diff of a differing sub-range. */
async function rowHashes(db: pg.ClientBase, table: ShardedTable, range: KeyRange): Promise<Map<string, string>> {
  const pk = PRIMARY_KEYS[table].map((c) => `t.${c}::text`).join(` || '|' || `);
  const res = await db.query<{ k: string; h: string }>(`SELECT ${pk} AS k, md5(t::text) AS h FROM ${table} t WHERE ${rangePredicate(1)}`, rangeParams(range));
  return new Map(res.rows.map((r) => [r.k, r.h]));
}

const same = (a: Sum, b: Sum) => a.n === b.n && a.h === b.h;

/** Compares the moving range on source and target. */
export async function verifyRange(source: pg.ClientBase, target: pg.ClientBase, range: KeyRange, opts: VerifyOptions): Promise<VerifyResult> {
  const started = performance.now();
  const parts = subRanges(range, opts.subRanges ?? 16);
  const maxRechecks = opts.maxRechecks ?? 8;
  let rechecks = 0;
  const tables: TableDiff[] = [];
  for (const table of SHARDED_TABLES) {
    const src = await bucketSums(source, table, range, parts);
    await opts.caughtUp();
    const tgt = await bucketSums(target, table, range, parts);
    const diff: TableDiff = { table, sourceRows: 0, targetRows: 0, matchingRanges: 0, mismatchedRanges: 0, mismatched: 0, extraOnSource: 0, extraOnTarget: 0 };
    for (let i = 0; i < parts.length; i++) {
      let s = src[i] as Sum;
      let t = tgt[i] as Sum;
      const part = parts[i] as KeyRange;
      for (let tries = 0; !same(s, t) && tries < maxRechecks; tries++) {
        rechecks++;
        s = await sumOf(source, table, part);
        await opts.caughtUp();
        t = await sumOf(target, table, part);
      }
      diff.sourceRows += s.n;
      diff.targetRows += t.n;
      if (same(s, t)) {
        diff.matchingRanges++;
      } else {
        diff.mismatchedRanges++;
        const [sr, tr] = [await rowHashes(source, table, part), await rowHashes(target, table, part)];
        for (const [k, h] of sr) {
          const other = tr.get(k);
          if (other === undefined) diff.extraOnSource++;
          else if (other !== h) diff.mismatched++;
        }
        for (const k of tr.keys()) if (!sr.has(k)) diff.extraOnTarget++;
      }
      await opts.onSubRange?.(tables.length * parts.length + i + 1, SHARDED_TABLES.length * parts.length);
    }
    tables.push(diff);
  }
  return {
    at: new Date().toISOString(),
    subRanges: parts.length,
    tables,
    ok: tables.every((t) => t.mismatchedRanges === 0),
    rechecks,
    ms: Math.round(performance.now() - started),
  };
}
