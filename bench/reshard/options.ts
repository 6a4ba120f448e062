/**
 * Options of the resharding benchmark: command-line flags and the ports of
 * its own stack (so it can run beside `npm run up`, the test stack and the
 * HTTP benchmark without sharing anything).
 */
import { parseArgs } from 'node:util';

/** Where the benchmark's stack lives and listens. */
export interface BenchStackConfig {
  dir: string;
  port: number;
  pgBasePort: number;
  redisPort: number;
  appBasePort: number;
}

/** Everything a run needs. */
export interface BenchOptions {
  /** Users to seed (each with one document and one email-lookup row). */
  rows: number;
  short: boolean;
  /** Writer rate through NGINX to users in the moving range. */
  writesPerSecond: number;
  /** Concurrent readers of users in the moving range. */
  readers: number;
  /** Path of the results JSON; null writes none. */
  out: string | null;
  stack: BenchStackConfig;
  /** Leave the stack up afterwards (to look at logs). */
  keep: boolean;
  log: (line: string) => void;
}

export const BENCH_STACK: BenchStackConfig = {
  dir: '.tessera-bench-reshard',
  port: 18980,
  pgBasePort: 26220,
  redisPort: 17190,
  appBasePort: 14201,
};

const FULL_ROWS = 200_000;
const SHORT_ROWS = 5_000;

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer (got ${text})`);
  return n;
}

/** Parses `npm run bench:reshard -- [--rows n] [--short] [--writes n] [--readers n] [--out file] [--keep]`. */
export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string' },
      short: { type: 'boolean', default: false },
      writes: { type: 'string' },
      readers: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const short = values.short ?? false;
  return {
    rows: positive('rows', values.rows, short ? SHORT_ROWS : FULL_ROWS),
    short,
    writesPerSecond: positive('writes', values.writes, 20),
    readers: positive('readers', values.readers, 2),
    out: values.out ?? 'bench/reshard-results.json',
    stack: BENCH_STACK,
    keep: values.keep ?? false,
    log: (line) => console.error(`[bench:reshard] ${line}`),
  };
}
