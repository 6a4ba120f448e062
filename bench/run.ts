/**
 * `npm run bench [-- --short] [--cases a,b] [--duration 10] [--warmup 3]
 *  [--users N] [--connections 64]
 *  [--write-connections 8] [--cpu-prof] [--no-pin] [--keep] [--out dir]`
 *
 * Runs the benchmark (bench/runner.ts), writes bench/results.json and
 * bench/results.md, and prints the table. Missed goals are reported, never
 * an exit code: numbers from a shared 2-core machine are not a CI gate.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/cluster/index.js';
import { CASE_IDS, parseCaseList } from './cases.js';
import { markdown } from './report.js';
import { runBench } from './runner.js';
import { BENCH_STACK, stopBenchStack } from './stack.js';
import { stopLeftoverBaselineNginx } from './baselines.js';

const USAGE = `usage: npm run bench -- [--short] [--cases a,b] [--duration s] [--warmup s] [--users n] [--connections n] [--write-connections n] [--cpu-prof] [--no-pin] [--keep] [--out dir]
cases: ${CASE_IDS.join(', ')}`;

function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
}

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    cases: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    users: { type: 'string' },
    connections: { type: 'string' },
    'write-connections': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

// Ctrl-C: still stop the stack (daemons outlive us otherwise).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the bench stack`);
    void stopLeftoverBaselineNginx(BENCH_STACK.dir)
      .then(() => stopBenchStack(log))
      .finally(() => process.exit(130));
  });
}

const started = Date.now();
const results = await runBench({
  short: values.short,
  ...(values.cases !== undefined && { cases: parseCaseList(values.cases) }),
  durationS: positive('duration', values.duration),
  warmupS: values.warmup === '0' ? 0 : positive('warmup', values.warmup),
  users: positive('users', values.users),
  connections: positive('connections', values.connections),
  writeConnections: positive('write-connections', values['write-connections']),
  cpuProf: values['cpu-prof'],
  pin: !values['no-pin'],
  keep: values.keep,
  log,
});
const md = markdown(results);
// --out: somewhere else than bench/ (the integration test keeps a developer's last full results).
const outDir = resolve(values.out ?? join(PROJECT_ROOT, 'bench'));
await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(join(outDir, 'results.md'), md);
process.stdout.write(`\n${md}\n`);
if (results.profile) process.stdout.write(`CPU profile (${results.profile.case}): ${results.profile.path ?? 'not written'}\n`);
log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; wrote ${join(outDir, 'results.json')} and results.md`);
