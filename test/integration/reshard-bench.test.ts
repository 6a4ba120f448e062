// The resharding benchmark in its --short mode, end to end on a stack of its
// own: it must produce every number (present and positive) with zero client
// errors and every moved row accounted for. No timing thresholds: the
// numbers depend on the machine; the goals are reported by the benchmark.
import { describe, expect, it } from 'vitest';
import { runReshardBench } from '../../bench/reshard/run.js';
import type { BenchResults } from '../../bench/reshard/results.js';

// Ports apart from the benchmark's own (so `npm run bench:reshard` can run
// beside the tests) and from the other suites; the offset as in test/setup.
const offset = Number(process.env.TESSERA_TEST_PORT_OFFSET ?? 0);

/** Numbers that must be exactly zero; every other number must be positive. */
const ZERO = new Set(['writer.errors', 'writer.skipped', 'reader.errors', 'checks.rowsInRangeOnSourceAfter']);
/** The cutover's sub-steps are rounded to 0.1 ms and may round to 0; an idle machine's load average is 0. */
const NON_NEGATIVE = /^(window\.cutover\.(fenceMs|catchUpMs|claimMs|publishMs)|machine\.loadAvg1m)$/;

function numbers(value: unknown, path: string, out: [string, unknown][]): void {
  if (typeof value === 'number' || value === null || value === undefined) out.push([path, value]);
  else if (Array.isArray(value)) value.forEach((v, i) => numbers(v, `${path}.${i}`, out));
  else if (typeof value === 'object') for (const [k, v] of Object.entries(value)) numbers(v, path ? `${path}.${k}` : k, out);
}

describe('npm run bench:reshard -- --short', () => {
  it('reports copy throughput against raw COPY and the cutover window, with zero client errors', async () => {
    const r: BenchResults = await runReshardBench({
      rows: 5_000, short: true, writesPerSecond: 20, readers: 2, out: null, keep: false,
      stack: { dir: '.tessera-test/reshard-bench', port: 18990 + offset, pgBasePort: 26240 + offset, redisPort: 17200 + offset, appBasePort: 14211 + offset },
      log: (line) => console.error(`[bench:reshard] ${line}`),
    });
    console.log(JSON.stringify({ ratio: r.ratio, window: r.window, writer: r.writer, reader: r.reader }));

    const found: [string, unknown][] = [];
    numbers(r, '', found);
    for (const [path, v] of found) {
      expect(typeof v, `${path} is a number`).toBe('number');
      if (ZERO.has(path)) expect(v, path).toBe(0);
      else if (NON_NEGATIVE.test(path)) expect(v, path).toBeGreaterThanOrEqual(0);
      else expect(v, path).toBeGreaterThan(0);
    }
    // The headline numbers, by name, so a renamed field cannot slip through.
    for (const v of [r.tessera.rowsPerS, r.tessera.mbPerS, r.rawCopy.rowsPerS, r.rawCopy.mbPerS, r.ratio.rowsPerS, r.ratio.mbPerS, r.window.recordedMs, r.window.writerLongestGapMs]) {
      expect(Number.isFinite(v) && v > 0).toBe(true);
    }
    expect(r.window.writerGapAtCutoverMs).not.toBeNull();
    expect(r.writer.errors, r.writer.errorSamples.join('\n')).toBe(0);
    expect(r.reader.errors, r.reader.errorSamples.join('\n')).toBe(0);
    expect(r.writer.ok).toBeGreaterThan(0);
    expect(r.reader.ok).toBeGreaterThan(0);
    expect(r.move.phase).toBe('done');
    expect(r.tessera.verifyOk).toBe(true);
    expect(r.checks.ok).toBe(true);
    expect(typeof r.window.recordedMet).toBe('boolean');
  }, 180_000);
});
