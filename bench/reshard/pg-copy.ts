/**
 * COPY helpers over pg-copy-streams: bulk-loading generated rows (seeding)
 * and piping one database's `COPY … TO STDOUT` into another's
 * `COPY … FROM STDIN` (the raw baseline), counting the bytes on the wire.
 */
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

/** Opens a client; the caller ends it. */
export async function connect(url: string, applicationName: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: applicationName });
  await c.connect();
  return c;
}

export async function withClient<T>(url: string, applicationName: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(url, applicationName);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** One field in COPY text format (our generated values hold no control characters, but be safe). */
function field(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** Streams rows into `table (columns)` with COPY FROM STDIN; returns the rows written. */
export async function copyRowsIn(c: pg.Client, table: string, columns: string[], rows: Iterable<string[]>): Promise<number> {
  function* lines(): Generator<string> {
    // Batched into ~64 KiB chunks: one write per row would dominate the cost.
    let buf = '';
    for (const r of rows) {
      buf += `${r.map(field).join('\t')}\n`;
      if (buf.length >= 65_536) {
        yield buf;
        buf = '';
      }
    }
    if (buf) yield buf;
  }
  const sink = c.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(lines()), sink);
  return sink.rowCount;
}

// pg-copy-streams hands over one chunk per CopyData message, i.e. per row;
// passing 150,000 tiny chunks one by one through the pipe costs more than the
// copy itself. A pipe between two psql processes moves 64 KiB at a time: so do we.
const PIPE_CHUNK = 65_536;

/** Pipes `COPY (select) TO STDOUT` on `src` into `COPY table FROM STDIN` on `dst`. */
export async function pipeCopy(src: pg.Client, select: string, dst: pg.Client, table: string): Promise<{ rows: number; bytes: number; ms: number }> {
  let bytes = 0;
  let held: Buffer[] = [];
  let heldBytes = 0;
  const rechunk = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes < PIPE_CHUNK) return done();
      const out = Buffer.concat(held, heldBytes);
      held = [];
      heldBytes = 0;
      done(null, out);
    },
    flush(done) {
      done(null, heldBytes > 0 ? Buffer.concat(held, heldBytes) : null);
    },
  });
  const started = performance.now();
  const sink = dst.query(copyFrom(`COPY ${table} FROM STDIN`));
  await pipeline(src.query(copyTo(`COPY (${select}) TO STDOUT`)), rechunk, sink);
  return { rows: sink.rowCount, bytes, ms: performance.now() - started };
}
