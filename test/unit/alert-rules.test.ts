/**
 * The shipped alert rules (monitoring/alerts.yml): promtool accepts them,
 * their tests (monitoring/alerts.test.yml) pass, and every alert fires in
 * at least one of those tests. promtool comes from Debian's `prometheus`
 * package, which the bootstrap installs for the test suite.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findBinary } from '../../src/cluster/which.js';

const MONITORING = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'monitoring');

function promtool(args: string[]): { status: number | null; output: string } {
  const bin = findBinary('promtool', 'Install it (apt-get install prometheus) or run `npm run bootstrap -- --with-tools` as root.');
  const r = spawnSync(bin, args, { cwd: MONITORING, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

interface RuleFile { groups: { rules: { alert?: string }[] }[] }
interface TestFile { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', 'alerts.yml']);
    expect(r.status, r.output).toBe(0);
  }, 30_000);

  it('pass their promtool unit tests', () => {
    const r = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  }, 30_000); // promtool evaluates hours of series: about a second, more on a busy machine

  it('each fire in at least one promtool test', () => {
    const rules = parse(readFileSync(join(MONITORING, 'alerts.yml'), 'utf8')) as RuleFile;
    const tests = parse(readFileSync(join(MONITORING, 'alerts.test.yml'), 'utf8')) as TestFile;
    const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    const fired = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    expect(alerts.length).toBeGreaterThanOrEqual(6);
    expect(alerts.filter((a) => !fired.has(a))).toEqual([]);
  });
});
