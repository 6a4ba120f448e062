/**
 * `npm run bench:compose` in a small mode, against the suite's compose stack
 * (--project …): both NGINX configurations start beside the stack's own, in
 * front of its apps, and every case produces its numbers with no failed
 * request. Only that is checked: throughput on a shared machine is noise,
 * never a test verdict.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ComposeBenchResults } from '../../bench/compose/report.js';
import { composeContext, docker, sh } from './support/compose.js';

const out = mkdtempSync(join(tmpdir(), 'tessera-bench-compose-test-'));
const offset = Number(process.env.TESSERA_TEST_PORT_OFFSET ?? 0);

describe('npm run bench:compose against a running compose stack', () => {
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('measures both NGINX configurations for every case, with nothing failed, and removes what it started', () => {
    const ctx = composeContext();
    sh(process.execPath, [
      '--import', 'tsx', join(ctx.root, 'bench', 'compose', 'run.ts'),
      '--project', ctx.project, '--env-file', ctx.envFile, '--secrets-dir', ctx.secretsDir,
      '--users', '60', '--duration', '1', '--warmup', '0', '--rounds', '1', '--variant-port', String(28680 + offset), '--out', out,
    ], { timeoutMs: 170_000 });
    const results = JSON.parse(readFileSync(join(out, 'compose-results.json'), 'utf8')) as ComposeBenchResults;
    expect(results.summary.map((c) => c.case)).toEqual(['get-zipf', 'create']);
    for (const c of results.summary) {
      for (const v of [c.dns, c.keepalive]) {
        expect(v.rps, c.case).toBeGreaterThan(0);
        expect(v.failed, c.case).toBe(0);
        expect(v.cpuMsPerRequest, c.case).toEqual(expect.any(Number));
      }
      expect(c.rpsRatio, c.case).toBeGreaterThan(0);
    }
    expect(readFileSync(join(out, 'compose-results.md'), 'utf8')).toContain('| case | NGINX config | req/s |');
    // Its two NGINX containers are gone again.
    expect(docker(['ps', '-aq', '--filter', `label=tessera.bench=${ctx.project}`]).trim()).toBe('');
  }, 180_000);
});
