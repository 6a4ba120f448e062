/** The results of one run (the JSON file) and their markdown table. */
import type { RawCopyResult } from './raw-copy.js';
import type { ReaderStats, WriterStats } from './load.js';
import type { CutoverTimings } from '../../src/reshard/index.js';

export const WINDOW_GOAL_MS = 500;

export interface BenchResults {
  generatedAt: string;
  machine: { cpus: number; loadAvg1m: number; node: string; note: string };
  config: { rows: number; short: boolean; writesPerSecond: number; readers: number };
  seed: { users: number; documents: number; emailLookup: number; seconds: number };
  move: { workflow: string; range: string; source: string; target: string; usersInRange: number; phase: string; cliSeconds: number };
  rawCopy: RawCopyResult;
  tessera: {
    rowsCopied: number;
    copySeconds: number;
    rowsPerS: number;
    /** COPY-text bytes of the moved rows (as measured by the baseline's stream) / copy seconds. */
    mbPerS: number;
    /** Planned bytes (sum of pg_column_size) / copy seconds: the workflow's own size measure. */
    mbPerSByPlannedBytes: number;
    timingSource: string;
    verifyMs: number | null;
    verifyOk: boolean;
  };
  ratio: { rowsPerS: number; mbPerS: number };
  window: {
    goalMs: number;
    recordedMs: number;
    recordedMet: boolean;
    cutover: CutoverTimings;
    /** Longest gap between successful writes to the moving range over the whole run. */
    writerLongestGapMs: number;
    writerMet: boolean;
    /** The gap that contains the map publish (the cutover's end); null if no write straddled it. */
    writerGapAtCutoverMs: number | null;
    /** Best resolution of the writer's gap: one tick. */
    writerTickMs: number;
  };
  writer: Omit<WriterStats, 'successes'>;
  reader: ReaderStats;
  /** After cleanup: the range's rows all on the target (the writer only updates), none left on the source. */
  checks: { rowsOnTargetAfter: number; rowsInRangeOnSourceAfter: number; expectedRows: number; ok: boolean };
}

const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
const n2 = (x: number) => x.toFixed(2);
const metText = (met: boolean) => (met ? 'MET' : 'MISSED');

export function markdown(r: BenchResults): string {
  const w = r.window;
  const lines = [
    `## Resharding benchmark (${r.config.short ? 'short' : 'full'}): split ${r.move.source} ${r.move.range} → ${r.move.target}`,
    '',
    `${n0(r.seed.users)} users + 1 document each; ${n0(r.rawCopy.rows)} rows (${n2(r.rawCopy.bytes / 1024 / 1024)} MB as COPY text) in the moving range, ` +
      `${n0(r.move.usersInRange)} of them users. Writer ${r.config.writesPerSecond}/s and ${r.config.readers} readers through NGINX on the moving range. ` +
      `${r.machine.cpus} CPUs, load ${r.machine.loadAvg1m.toFixed(1)} at the end; ${r.machine.note}`,
    '',
    '| metric | Tessera reshard | raw COPY \\| COPY | ratio | goal |',
    '|---|---:|---:|---:|---|',
    `| copy rows/s | ${n0(r.tessera.rowsPerS)} | ${n0(r.rawCopy.rowsPerS)} | ${n2(r.ratio.rowsPerS)} | — |`,
    `| copy MB/s | ${n2(r.tessera.mbPerS)} | ${n2(r.rawCopy.mbPerS)} | ${n2(r.ratio.mbPerS)} | — |`,
    `| copy time | ${n2(r.tessera.copySeconds)} s | ${n2(r.rawCopy.seconds)} s | | |`,
    `| write window, workflow record | ${w.recordedMs} ms | | | < ${w.goalMs} ms: **${metText(w.recordedMet)}** |`,
    `| write window, seen by writer (longest gap) | ${n0(w.writerLongestGapMs)} ms | | | < ${w.goalMs} ms: **${metText(w.writerMet)}** |`,
    `| writer errors | ${r.writer.errors} of ${n0(r.writer.attempted)} | | | 0: **${metText(r.writer.errors === 0)}** |`,
    `| reader errors | ${r.reader.errors} of ${n0(r.reader.attempted)} | | | 0: **${metText(r.reader.errors === 0)}** |`,
    '',
    `Tessera copy timing: ${r.tessera.timingSource}. MB/s counts the COPY-text bytes of the moved rows (the baseline's stream; logical ` +
      `replication's initial sync sends COPY text too); by the workflow's planned size (pg_column_size) it is ${n2(r.tessera.mbPerSByPlannedBytes)} MB/s. ` +
      `Cutover: fence ${w.cutover.fenceMs} ms, catch-up ${w.cutover.catchUpMs} ms, claim ${w.cutover.claimMs} ms, publish ${w.cutover.publishMs} ms; ` +
      `the writer's gap around the map publish was ${w.writerGapAtCutoverMs === null ? 'not observed' : `${n0(w.writerGapAtCutoverMs)} ms`} ` +
      `(resolution one tick, ${n0(w.writerTickMs)} ms; max write latency ${n0(r.writer.maxLatencyMs)} ms). Verify ${r.tessera.verifyOk ? 'OK' : 'FAILED'} in ${r.tessera.verifyMs ?? '?'} ms; ` +
      `whole CLI run (prepare → cleanup) ${n2(r.move.cliSeconds)} s. After cleanup ${n0(r.checks.rowsOnTargetAfter)} rows of the range on ${r.move.target} ` +
      `(expected ${n0(r.checks.expectedRows)}), ${n0(r.checks.rowsInRangeOnSourceAfter)} left on ${r.move.source}: **${r.checks.ok ? 'OK' : 'MISMATCH'}**.`,
  ];
  return lines.join('\n');
}
