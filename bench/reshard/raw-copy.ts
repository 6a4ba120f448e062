/**
 * The baseline: what PostgreSQL alone moves between the same two databases in
 * the same run. `COPY (SELECT * FROM t WHERE <moving range>) TO STDOUT` on the
 * source piped into `COPY scratch FROM STDIN` on the target, one table after
 * another, for the three tables a reshard moves (the same rows the workflow
 * copies, so rows/s and MB/s compare like with like). Scratch tables are
 * `LIKE t INCLUDING ALL` (same columns and indexes, no fence trigger, which
 * does not fire in the replication apply worker either) and are dropped after.
 */
import type { KeyRange } from '../../src/routing/keyrange.js';
import { rangeFilterLiteral } from '../../src/reshard/range-sql.js';
import { connect, pipeCopy } from './pg-copy.js';

const TABLES = ['users', 'documents', 'email_lookup'] as const;

export interface TableCopy {
  table: string;
  rows: number;
  bytes: number;
  ms: number;
}

export interface RawCopyResult {
  tables: TableCopy[];
  rows: number;
  /** Bytes of COPY text on the wire (what the source sent). */
  bytes: number;
  seconds: number;
  rowsPerS: number;
  mbPerS: number;
}

const scratch = (t: string) => `bench_raw_${t}`;

export async function rawCopy(sourceUrl: string, targetUrl: string, range: KeyRange): Promise<RawCopyResult> {
  const src = await connect(sourceUrl, 'tessera-bench-raw-copy');
  const dst = await connect(targetUrl, 'tessera-bench-raw-copy').catch(async (err: unknown) => {
    await src.end();
    throw err;
  });
  try {
    for (const t of TABLES) await dst.query(`DROP TABLE IF EXISTS ${scratch(t)}; CREATE TABLE ${scratch(t)} (LIKE ${t} INCLUDING ALL)`);
    const tables: TableCopy[] = [];
    for (const t of TABLES) {
      const r = await pipeCopy(src, `SELECT * FROM ${t} WHERE ${rangeFilterLiteral(range)}`, dst, scratch(t));
      tables.push({ table: t, ...r });
    }
    const rows = tables.reduce((a, t) => a + t.rows, 0);
    const bytes = tables.reduce((a, t) => a + t.bytes, 0);
    const seconds = tables.reduce((a, t) => a + t.ms, 0) / 1000;
    return { tables, rows, bytes, seconds, rowsPerS: rows / seconds, mbPerS: bytes / 1024 / 1024 / seconds };
  } finally {
    // The scratch copies must not linger on the shard the reshard fills next.
    await dst.query(TABLES.map((t) => `DROP TABLE IF EXISTS ${scratch(t)};`).join(' ')).catch(() => undefined);
    await Promise.all([src.end().catch(() => undefined), dst.end().catch(() => undefined)]);
  }
}
