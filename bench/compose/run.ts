/**
 * `npm run bench:compose [-- --short] [--duration s] [--warmup s] [--users n]
 *  [--connections n] [--write-connections n] [--apps n] [--rounds n] [--no-pin] [--keep]
 *  [--project p --env-file f --secrets-dir d]`
 *
 * What NGINX's way of following `--scale app=N` costs (nginx/compose.conf:
 * `app` resolved per request, a new upstream connection per request) against
 * the local stack's upstream with a keepalive pool, in front of the same
 * app containers of a compose stack (bench/compose/nginx-variants.ts). The
 * same load generator as `npm run bench` (autocannon, pinned to its own
 * core; the containers are pinned to the others with `docker update
 * --cpuset-cpus`), the cases in alternating rounds so that a slow moment of
 * the machine does not favour one side.
 *
 * Brings up its own compose project (`tesserabench`), or measures one that is
 * running (--project/--env-file/--secrets-dir: the Docker test suite's,
 * unpinned). Writes bench/compose-results.json and compose-results.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSigningKey } from '../../src/auth/keys.js';
import { mintToken } from '../../src/auth/mint.js';
import { SCOPES } from '../../src/auth/scopes.js';
import { PROJECT_ROOT } from '../../src/cluster/index.js';
import { composeCommand } from '../../src/cluster/docker-scale.js';
import { seedUsers } from '../../src/seed/create-users.js';
import { planPinning, treeCpuSeconds } from '../cpu.js';
import { runLoad, type Measured } from '../load.js';
import type { Workload } from '../workload.js';
import { startVariant, stopVariant, VARIANTS, type Variant } from './nginx-variants.js';
import { addressOn, containerPid, containersOf, OWN_DIR, projectContainers, sh, startOwnStack, stopOwnStack, type ComposeTarget } from './stack.js';
import { markdown, summarize, type ComposeBenchResults } from './report.js';

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    users: { type: 'string' },
    connections: { type: 'string' },
    'write-connections': { type: 'string' },
    apps: { type: 'string' },
    rounds: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    project: { type: 'string' },
    'env-file': { type: 'string' },
    'secrets-dir': { type: 'string' },
    'variant-port': { type: 'string' },
    out: { type: 'string' },
  },
  strict: true,
});

function num(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
}

const log = (line: string) => process.stderr.write(`[bench:compose] ${line}\n`);
const short = values.short;
const opts = {
  durationS: num('duration', values.duration, short ? 3 : 10),
  warmupS: values.warmup === '0' ? 0 : num('warmup', values.warmup, short ? 1 : 3),
  users: num('users', values.users, short ? 300 : 2000),
  connections: num('connections', values.connections, 64),
  writeConnections: num('write-connections', values['write-connections'], 8),
  apps: num('apps', values.apps, 2),
  rounds: num('rounds', values.rounds, short ? 1 : 2),
};
const attached = values.project !== undefined;
if (attached && (!values['env-file'] || !values['secrets-dir'])) throw new Error('--project needs --env-file and --secrets-dir');
const variantPort = num('variant-port', values['variant-port'], 18981);

const started = Date.now();
const composeCmd = await composeCommand();
const target: ComposeTarget = attached
  ? { composeCmd, project: values.project!, envFile: values['env-file']!, secretsDir: values['secrets-dir']!, port: 0 }
  : await startOwnStack(composeCmd, opts.apps, log);

// The containers on the server cores, the generator alone on its own (as `npm run bench` does).
const pin = planPinning(values['no-pin'] || attached);
const serverCpus = pin.pinned ? pin.serverCpus.join(',') : undefined;
if (serverCpus) for (const id of projectContainers(target)) sh('docker', ['update', '--cpuset-cpus', serverCpus, id]);

const ports: Record<Variant, number> = { dns: variantPort, keepalive: variantPort + 1 };
// The variants' configurations and the seeded ids; removed at the end.
const workDir = attached ? mkdtempSync(join(tmpdir(), 'tessera-bench-compose-')) : join(OWN_DIR, 'run');
try {
  const apps = containersOf(target, 'app');
  const addresses = apps.map((id) => `${addressOn(target, id, 'edge')}:3000`);
  const nginx: Record<Variant, string> = { dns: '', keepalive: '' };
  for (const v of VARIANTS) nginx[v] = startVariant(target, v, addresses, ports[v], workDir, serverCpus);
  const url = (v: Variant) => `http://127.0.0.1:${ports[v]}`;

  const key = await readSigningKey(join(target.secretsDir, 'signing-key.jwk'));
  const token = await mintToken(key, { scopes: [...SCOPES], clientId: 'tessera-bench-compose', ttlSeconds: 3 * 3600 });
  const headers = { authorization: `Bearer ${token}` };
  for (const v of VARIANTS) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`${url(v)}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`NGINX variant ${v} not ready on ${url(v)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  log(`seeding ${opts.users} users through NGINX`);
  const seeded = await seedUsers({ baseUrl: url('dns'), token, users: opts.users, docsPerUser: 0, concurrency: 16 });
  await mkdir(workDir, { recursive: true });
  const usersFile = join(workDir, 'users.json');
  await writeFile(usersFile, JSON.stringify(seeded.users.map((u) => ({ id: u.id }))));

  const cases: { id: string; title: string; workload: Workload; connections: number }[] = [
    { id: 'get-zipf', title: 'GET user, Zipf (default settings: mostly L1/L2 hits)', workload: { kind: 'get-user', usersFile, zipfS: 1, seed: 7 }, connections: opts.connections },
    { id: 'create', title: 'POST user (email claim + insert)', workload: { kind: 'create-user', runId: `c${Date.now().toString(36)}` }, connections: opts.writeConnections },
  ];
  const serverRoots = (v: Variant) => [containerPid(nginx[v]), ...apps.map(containerPid)];
  const runs: ComposeBenchResults['runs'] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const c of cases) {
      // Alternate which side goes first from round to round.
      const order = round % 2 === 1 ? VARIANTS : [...VARIANTS].reverse();
      for (const v of order) {
        const workload: Workload = c.workload.kind === 'create-user' ? { ...c.workload, runId: `${c.workload.runId}-${v}-${round}` } : c.workload;
        log(`round ${round}: ${c.id} through ${v}`);
        const roots = serverRoots(v);
        const nginxCpu0 = treeCpuSeconds(roots.slice(0, 1));
        const m: Measured = await runLoad({ url: url(v), workload, connections: c.connections, warmupS: opts.warmupS, durationS: opts.durationS, headers }, pin, { nginx: roots.slice(0, 1), app: roots.slice(1) });
        runs.push({ case: c.id, title: c.title, variant: v, round, nginxCpuS: treeCpuSeconds(roots.slice(0, 1)) - nginxCpu0, ...m });
      }
    }
  }
  const results: ComposeBenchResults = {
    at: new Date().toISOString(),
    options: { ...opts, apps: apps.length, pinned: pin.pinned, pinning: pin.pinned ? `containers on CPU ${pin.serverCpus.join(',')}, generator on ${pin.generatorCpus.join(',')}` : (attached ? 'not pinned (an attached stack is left as it is)' : pin.reason ?? 'not pinned') },
    runs,
    summary: summarize(runs),
  };
  const outDir = values.out ?? join(PROJECT_ROOT, 'bench');
  await mkdir(outDir, { recursive: true });
  const md = markdown(results);
  await writeFile(join(outDir, 'compose-results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, 'compose-results.md'), md);
  process.stdout.write(`\n${md}\n`);
} finally {
  for (const v of VARIANTS) stopVariant(target, v);
  if (attached) rmSync(workDir, { recursive: true, force: true });
  else if (!values.keep) stopOwnStack(target);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
