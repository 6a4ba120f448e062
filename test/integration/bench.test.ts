// The benchmark in its short mode, end to end: it brings up its own stack
// (own folder and ports, beside the shared test stack), runs every case and
// tears down. Only that every case produced a number and a ratio is checked:
// throughput on a shared machine is noise, never a test verdict.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CASE_IDS } from '../../bench/cases.js';
import type { Results } from '../../bench/report.js';
import { PORT_OFFSET } from '../support/ports.js';

const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'tessera-bench-test-'));

describe('npm run bench -- --short', () => {
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('measures every case and gives each a requests/s and a ratio', async () => {
    await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--short', '--duration', '2', '--out', out], {
      timeout: 480_000,
      env: { ...process.env, TESSERA_BENCH_PORT_OFFSET: String(PORT_OFFSET) },
      maxBuffer: 16 * 1024 * 1024,
    });
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    expect(results.run.mode).toBe('short');
    expect(results.cases.map((c) => c.id).sort()).toEqual([...CASE_IDS].sort());
    for (const c of results.cases) {
      expect(c.rps, c.id).toBeGreaterThan(0);
      expect(c.ratio, c.id).toEqual(expect.any(Number));
      // CPU per request by component: the server under test did work in every case.
      expect(c.kind === 'ceiling' ? c.cpuUsPerRequest.baseline : c.cpuUsPerRequest.app, c.id).toBeGreaterThan(0);
    }
    // Reads were served by the tier each case forces (from the apps' own counters).
    const tiers = Object.fromEntries(results.cases.map((c) => [c.id, c.tiers]));
    expect(tiers['get-l1']?.l1).toBeGreaterThan(0.95);
    expect(tiers['get-l1-trace-1pct']?.l1).toBeGreaterThan(0.95);
    expect(tiers['get-l1-trace-100pct']?.l1).toBeGreaterThan(0.95);
    expect(tiers['get-l2']?.l2).toBeGreaterThan(0.95);
    // Misses: L1 off and L2 entries that expire within 1 ms of their fill. A GET that reaches Redis
    // within that millisecond still hits (more often since GETs and fills share pipelined writes):
    // a few percent of L2 in this case is timing, a broken plan would be nearly all L2.
    expect((tiers['get-miss']?.replica ?? 0) + (tiers['get-miss']?.primary ?? 0)).toBeGreaterThan(0.8);
    expect(results.memory.length).toBeGreaterThan(0);
    // The shard check ran on a stack of three shards, and each primary took part of the writes.
    for (const id of ['create-3shards', 'put-doc-3shards']) {
      const shares = results.cases.find((c) => c.id === id)?.primaryShares ?? {};
      expect(Object.keys(shares).sort(), id).toEqual(['shard-a', 'shard-b', 'shard-c']);
      for (const x of Object.values(shares)) expect(x, id).toBeGreaterThan(0.1);
    }
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(md).toContain('| case | req/s |');
    expect(md).toContain('## CPU time per request, by component (µs)');
    expect(md).toContain('## Capacity model, checked');
    expect(md).toContain('Shards: the same writes on a stack of three shards');
  }, 490_000);
});
