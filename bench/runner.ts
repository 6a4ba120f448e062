/**
 * The benchmark from start to finish: bring the bench stack up, seed it, run
 * the ceilings and the Tessera cases with one load generator on its own core,
 * optionally profile the worst case, tear everything down, and hand back the
 * judged results. `bench/run.ts` is the command around it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { PROJECT_ROOT, type AppInfo, type StackInfo } from '../src/cluster/index.js';
import { startBaseline, startBaselineNginx, stopLeftoverBaselineNginx, type BaselineName, type Running } from './baselines.js';
import { CASE_IDS, caseDef, withReferences, type CaseId } from './cases.js';
import { pinTree, planPinning, rssMiB, treeCpuSeconds, type Pinning } from './cpu.js';
import { runLoad, type ServerGroups } from './load.js';
import type { LoadSpec } from './loadgen.js';
import { appEnvFor, L1_CONFIGS, planOf, PLANS, type AppConfig, type Plan } from './plans.js';
import { startOtlpSink, type OtlpSink } from './otlp-sink.js';
import { judge, type CaseResult, type MemorySample, type Results } from './report.js';
import { seedUsers } from './seed.js';
import { BENCH_STACK, restartApp, routeNginxTo, startBenchStack, stopBenchStack } from './stack.js';
import { readCounts, tierShares } from './tiers.js';
import type { Workload } from './workload.js';
import { readSigningKey } from '../src/auth/keys.js';
import { CatalogStore } from '../src/catalog/store.js';
import { setDurability } from '../src/failover/durability.js';
import { slotName } from '../src/cluster/layout.js';
import { mintToken } from '../src/auth/mint.js';
import { SCOPES } from '../src/auth/scopes.js';

export interface BenchOptions {
  short: boolean;
  cases?: CaseId[];
  durationS?: number;
  warmupS?: number;
  users?: number;
  connections?: number;
  /** Connections for the write cases (and their pg INSERT ceiling); see README: more than the pool deadlocks creates. */
  writeConnections?: number;
  cpuProf: boolean;
  pin: boolean;
  /** Leave the stack running afterwards (debugging a case); `npm run down -- --dir .tessera-bench --purge` stops it. */
  keep?: boolean;
  log: (line: string) => void;
}

const ZIPF_S = 1.0;
export const PROFILE_DIR = join(PROJECT_ROOT, 'bench', 'profiles');

/** Everything one run shares. */
interface Ctx {
  opts: BenchOptions;
  pin: Pinning;
  stack: StackInfo;
  usersFile: string;
  users: number;
  warmupS: number;
  durationS: number;
  connections: number;
  writeConnections: number;
  /** Pids of the baseline servers running now (their CPU counts as the server's). */
  baselinePids: number[];
  results: Map<CaseId, CaseResult>;
  memory: MemorySample[];
  /** Settings app-1 runs with now (apps 2-4 stay on `l1`). */
  app1Config: AppConfig;
  /** Apps whose L1 holds every user (under the `l1` settings). */
  l1Warm: Set<string>;
  l2Warm: boolean;
  nginxApps: number;
  /** The shards' durability now. */
  durability: 'sync' | 'async';
  /** The bearer token every request sends (a service token with every scope, from the bench stack's key). */
  headers: Record<string, string>;
  /** Where the traced cases export spans, started with the first of them. */
  sink?: OtlpSink;
}

function workloadFor(kind: 'get' | 'create' | 'put', ctx: Ctx): Workload {
  const runId = randomBytes(4).toString('hex');
  switch (kind) {
    case 'get':
      return { kind: 'get-user', usersFile: ctx.usersFile, zipfS: ZIPF_S, seed: 42 };
    case 'create':
      return { kind: 'create-user', runId };
    case 'put':
      return { kind: 'put-doc', usersFile: ctx.usersFile, runId, seed: 7 };
  }
}

/** A service token with every scope, signed with the bench stack's key: the Tessera cases run with authentication on, as shipped. */
async function token(stack: StackInfo): Promise<string> {
  if (!stack.auth || stack.auth.mode !== 'jwt') throw new Error('the bench stack has no signing key');
  return mintToken(await readSigningKey(stack.auth.signingKeyFile), { scopes: [...SCOPES], clientId: 'bench', ttlSeconds: 24 * 3600 });
}

/** Makes every shard of the bench stack `sync` or `async`, in the catalog and on its primary. */
async function setStackDurability(stack: StackInfo, durability: 'sync' | 'async'): Promise<void> {
  const catalog = new CatalogStore(stack.catalog.url, { applicationName: 'tessera-bench' });
  try {
    for (const s of stack.shards) {
      const replicas = s.replicas.map((r) => ({ name: r.name, url: r.url, slot: r.slot ?? slotName(r.name) }));
      await setDurability(catalog, s.name, durability, replicas);
    }
  } finally {
    await catalog.close();
  }
}

/** Every server process of the run now, the stack's and the baselines', by component. */
function serverGroups(ctx: Ctx): ServerGroups {
  const s = ctx.stack;
  const live = (pids: number[]) => pids.filter((p) => p > 0);
  return {
    app: live(s.apps.map((a) => a.pid)),
    nginx: live([s.nginx.pid]),
    primary: live(s.shards.map((sh) => sh.primary.pid)),
    replica: live(s.shards.flatMap((sh) => sh.replicas.map((r) => r.pid))),
    redis: live([s.redis.pid]),
    catalog: live([s.catalog.pid]),
    baseline: live(ctx.baselinePids),
  };
}

function connectionsFor(ctx: Ctx, w: Workload): number {
  return w.kind === 'create-user' || w.kind === 'put-doc' ? ctx.writeConnections : ctx.connections;
}

/** Runs one case against `url` and records it; read cases also record which tiers served. */
async function measure(ctx: Ctx, id: CaseId, url: string, workload: Workload, apps: AppInfo[] = [], appEnv?: Record<string, string>): Promise<CaseResult> {
  ctx.opts.log(`case ${id}: ${caseDef(id).title} → ${url}`);
  const isRead = workload.kind === 'get-user' && apps.length > 0;
  const before = isRead ? await readCounts(apps) : null;
  const spec: LoadSpec = { url, workload, connections: connectionsFor(ctx, workload), warmupS: ctx.warmupS, durationS: ctx.durationS, headers: ctx.headers };
  const isWrite = workload.kind === 'create-user' || workload.kind === 'put-doc';
  const primaries = isWrite && apps.length > 0 ? ctx.stack.shards.map((s) => ({ shard: s.name, pid: s.primary.pid, cpu0: treeCpuSeconds([s.primary.pid]) })) : [];
  const m = await runLoad(spec, ctx.pin, serverGroups(ctx));
  const primaryCpu = primaries.map((p) => ({ shard: p.shard, s: treeCpuSeconds([p.pid]) - p.cpu0 }));
  const primaryTotal = primaryCpu.reduce((a, p) => a + p.s, 0);
  const after = isRead ? await readCounts(apps) : null;
  const tiers = before && after ? tierShares(before, after) : null;
  const dbLoads = before && after ? after.replica + after.primary - before.replica - before.primary : null;
  const result: CaseResult = {
    ...m,
    id,
    tiers,
    dbLoadsPerRequest: dbLoads === null ? null : dbLoads / Math.max(1, m.requests + m.warmupRequests),
    ...(appEnv && { appEnv }),
    ...(primaryTotal > 0 && { primaryShares: Object.fromEntries(primaryCpu.map((p) => [p.shard, p.s / primaryTotal])) }),
  };
  ctx.results.set(id, result);
  ctx.opts.log(`  ${Math.round(m.rps)} req/s, p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms, non-2xx ${m.non2xx}, errors ${m.errors}`);
  return result;
}

/** Reads every seeded user once through `app`: fills its L1 (l1 settings) and L2. */
async function sweep(ctx: Ctx, app: AppInfo): Promise<void> {
  const started = Date.now();
  const m = await runLoad(
    { url: app.url, workload: { kind: 'sweep-users', usersFile: ctx.usersFile }, connections: ctx.connections, warmupS: 0, durationS: 0, amount: ctx.users, headers: ctx.headers },
    ctx.pin,
  );
  if (m.non2xx > 0 || m.errors > 0) throw new Error(`cache sweep through ${app.id} failed: ${m.non2xx} non-2xx, ${m.errors} errors`);
  ctx.opts.log(`  swept ${ctx.users} users through ${app.id} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------- ceilings

async function withBaseline<T>(ctx: Ctx, name: BaselineName, fn: (b: Running) => Promise<T>): Promise<T> {
  const b = await startBaseline(name, ctx.stack, ctx.usersFile);
  ctx.baselinePids.push(b.pid);
  try {
    return await fn(b);
  } finally {
    await b.stop();
    ctx.baselinePids = [];
  }
}

async function runCeilings(ctx: Ctx, want: Set<CaseId>): Promise<void> {
  if (want.has('bare') || want.has('nginx-bare') || want.has('nginx-minimal')) {
    await withBaseline(ctx, 'bare', async (b) => {
      if (want.has('bare')) await measure(ctx, 'bare', b.url, workloadFor('get', ctx));
      // The minimal proxy and Tessera's config, back to back in front of the same handler.
      for (const [id, config] of [['nginx-minimal', 'minimal'], ['nginx-bare', 'tessera']] as const) {
        if (!want.has(id)) continue;
        const ngx = await startBaselineNginx(ctx.stack, b.url, config);
        ctx.baselinePids.push(ngx.pid);
        try {
          await measure(ctx, id, ngx.url, workloadFor('get', ctx));
        } finally {
          await ngx.stop();
          ctx.baselinePids.pop();
        }
      }
    });
  }
  if (want.has('redis-get')) await withBaseline(ctx, 'redis-get', (b) => measure(ctx, 'redis-get', b.url, workloadFor('get', ctx)));
  if (want.has('pg-select')) await withBaseline(ctx, 'pg-select', (b) => measure(ctx, 'pg-select', b.url, workloadFor('get', ctx)));
  if (want.has('pg-insert')) await withBaseline(ctx, 'pg-insert', (b) => measure(ctx, 'pg-insert', b.url, workloadFor('create', ctx)));
}

// ---------------------------------------------------------------- Tessera

async function flushRedis(stack: StackInfo): Promise<void> {
  const redis = new Redis(stack.redis.url, { maxRetriesPerRequest: 1 });
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

/** Puts app-1 on `config` (restarting it when it changes) and prepares the caches the config needs. */
async function configure(ctx: Ctx, plan: Plan, cpuProfDir?: string): Promise<void> {
  const app1 = ctx.stack.apps[0] as AppInfo;
  const restartNeeded = ctx.app1Config !== plan.config || cpuProfDir !== undefined;
  if (plan.config === 'miss' && restartNeeded) {
    await flushRedis(ctx.stack);
    ctx.l2Warm = false;
  }
  if (plan.config.startsWith('l1-trace') && !ctx.sink) ctx.sink = await startOtlpSink();
  if (restartNeeded) {
    ctx.opts.log(`app-1 → ${plan.config} settings${cpuProfDir ? ' under --cpu-prof' : ''}`);
    await restartApp(ctx.stack, app1, appEnvFor(plan.config, ctx.users), cpuProfDir);
    ctx.app1Config = plan.config;
    ctx.l1Warm.delete(app1.id);
  }
  // Only app-1's L1 is swept full: sweeping every replica costs minutes at
  // 100,000 users. The replicas added for the 2- and 4-app cases fill their L1
  // from L2 during warm-up and the run ("served by" shows the L2 share left).
  if (L1_CONFIGS.has(plan.config) && !ctx.l1Warm.has(app1.id)) {
    await sweep(ctx, app1);
    ctx.l1Warm.add(app1.id);
    ctx.l2Warm = true;
  }
  if (plan.config === 'l2' && !ctx.l2Warm) {
    await sweep(ctx, app1);
    ctx.l2Warm = true;
  }
  const durability = plan.durability ?? 'sync';
  if (ctx.durability !== durability) {
    ctx.opts.log(`shards → ${durability}`);
    await setStackDurability(ctx.stack, durability);
    ctx.durability = durability;
  }
  if (plan.via === 'nginx' && ctx.nginxApps !== plan.apps) {
    await routeNginxTo(ctx.stack, plan.apps);
    ctx.nginxApps = plan.apps;
  }
}

async function runPlan(ctx: Ctx, plan: Plan): Promise<CaseResult> {
  await configure(ctx, plan);
  const apps = ctx.stack.apps.slice(0, plan.apps);
  const url = plan.via === 'nginx' ? ctx.stack.nginx.url : (apps[0] as AppInfo).url;
  return measure(ctx, plan.id, url, workloadFor(plan.workload, ctx), apps, appEnvFor(plan.config, ctx.users));
}

function sampleMemory(ctx: Ctx, apps: AppInfo[], when: string): void {
  for (const app of apps) {
    const rss = rssMiB(app.pid);
    ctx.memory.push({ app: app.id, when, rssMiB: rss, under300MiB: rss === null ? null : rss < 300 });
  }
}

/** Pins every process of `stack` to the server cores (inherited already; again in case something else started one). */
function pinStack(stack: StackInfo, pin: Pinning): void {
  if (!pin.pinned) return;
  for (const pid of [stack.redis.pid, stack.nginx.pid, ...stack.apps.map((a) => a.pid), stack.catalog.pid, ...stack.shards.flatMap((s) => [s.primary.pid, ...s.replicas.map((r) => r.pid)])]) {
    if (pid > 0) pinTree(pid, pin.serverCpus);
  }
}

/**
 * The capacity model's shard check: the write cases again on a stack brought
 * up anew with three shards, against the same cases on two.
 * Fewer users are seeded: the writes need only some users to write to.
 */
async function runOnThreeShards(ctx: Ctx, want: Set<CaseId>): Promise<void> {
  const plans = PLANS.filter((p) => p.shards === 3 && want.has(p.id));
  if (plans.length === 0) return;
  const log = (line: string) => ctx.opts.log(`[stack] ${line}`);
  ctx.opts.log('stack → 3 shards, for the capacity model\'s shard check');
  const users = Math.min(ctx.users, 20_000);
  // As many apps as before: idle replicas' timers and probes count in the app's CPU per request of both.
  const stack = await startBenchStack(appEnvFor('default', users), log, { shards: 3, apps: BENCH_STACK.apps });
  pinStack(stack, ctx.pin);
  const { file } = await seedUsers(stack, users, ctx.opts.log);
  Object.assign(ctx, {
    stack, usersFile: file, users,
    app1Config: 'default', l1Warm: new Set<string>(), l2Warm: false, nginxApps: stack.apps.length, durability: 'sync',
    headers: { authorization: `Bearer ${await token(stack)}` },
  } satisfies Partial<Ctx>);
  for (const plan of plans) await runPlan(ctx, plan);
}

async function runTessera(ctx: Ctx, want: Set<CaseId>): Promise<void> {
  const plans = PLANS.filter((p) => p.shards === undefined && want.has(p.id));
  for (const plan of plans) {
    await runPlan(ctx, plan);
    const next = plans[plans.indexOf(plan) + 1];
    if (plan.config === 'l1' && next?.config !== 'l1') {
      sampleMemory(ctx, ctx.stack.apps.slice(0, Math.max(...plans.filter((p) => p.config === 'l1').map((p) => p.apps))), 'after the L1-hit reads (L1 sized for every user)');
    }
    if (plan.id === 'get-default') sampleMemory(ctx, ctx.stack.apps.slice(0, 1), 'after the Zipf reads with default settings');
  }
}

/** The Tessera case furthest below its goal (or, with every goal met, closest to it). */
export function worstCase(results: Results['cases']): CaseId | null {
  const scored = results.filter((r) => r.goal !== null && r.ratio !== null && planOf(r.id));
  scored.sort((a, b) => (a.ratio as number) / (a.goal as number) - (b.ratio as number) / (b.goal as number));
  return scored[0]?.id ?? null;
}

/** Reruns a case with app-1 under `--cpu-prof`; returns the profile's path. */
async function profileCase(ctx: Ctx, id: CaseId): Promise<string | null> {
  const plan = planOf(id);
  if (!plan) return null;
  await mkdir(PROFILE_DIR, { recursive: true });
  const started = Date.now();
  // Only app-1 is profiled: route NGINX to it alone.
  const single: Plan = { ...plan, apps: 1 };
  await configure(ctx, single, PROFILE_DIR);
  const url = plan.via === 'nginx' ? ctx.stack.nginx.url : (ctx.stack.apps[0] as AppInfo).url;
  ctx.opts.log(`profiling ${id} (app-1 under --cpu-prof)`);
  const workload = workloadFor(plan.workload, ctx);
  await runLoad({ url, workload, connections: connectionsFor(ctx, workload), warmupS: 0, durationS: ctx.durationS, headers: ctx.headers }, ctx.pin);
  // The profile is written when the process exits: restart app-1 without the flag.
  await restartApp(ctx.stack, ctx.stack.apps[0] as AppInfo, appEnvFor(plan.config, ctx.users));
  // tsx's loader thread writes a profile too, sometimes the bigger one: the app's is the one that served HTTP.
  const written = readdirSync(PROFILE_DIR)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(PROFILE_DIR, f))
    .filter((f) => statSync(f).mtimeMs >= started);
  return written.find((f) => readFileSync(f, 'utf8').includes('"node:_http_server"')) ?? null;
}

// ---------------------------------------------------------------- the run

export async function runBench(opts: BenchOptions): Promise<Results> {
  const startedAt = new Date().toISOString();
  const loadavgStart = loadavg().map((x) => x.toFixed(2)).join(' ');
  const pin = planPinning(!opts.pin);
  // Pin ourselves first: every server we start (apps, PostgreSQL, Redis,
  // NGINX, baselines) inherits the server cores; the generator is started on its own.
  if (pin.pinned) pinTree(process.pid, pin.serverCpus);
  else opts.log(`NOT PINNING: ${pin.reason ?? ''}; servers and load generator share every CPU`);

  const users = opts.users ?? (opts.short ? 2_000 : 100_000);
  const want = new Set(withReferences(opts.cases ?? CASE_IDS));
  const memory: MemorySample[] = [];
  const results = new Map<CaseId, CaseResult>();
  let profile: Results['profile'];

  await stopLeftoverBaselineNginx(BENCH_STACK.dir);
  try {
    const stack = await startBenchStack(appEnvFor('l1', users), (line) => opts.log(`[stack] ${line}`));
    pinStack(stack, pin);
    const { file } = await seedUsers(stack, users, opts.log);
    const ctx: Ctx = {
      opts, pin, stack, usersFile: file, users,
      warmupS: opts.warmupS ?? (opts.short ? 1 : 3),
      durationS: opts.durationS ?? (opts.short ? 3 : 10),
      connections: opts.connections ?? 64,
      writeConnections: opts.writeConnections ?? 8,
      baselinePids: [],
      results, memory,
      app1Config: 'l1', l1Warm: new Set(), l2Warm: false, nginxApps: stack.apps.length, durability: 'sync',
      headers: { authorization: `Bearer ${await token(stack)}` },
    };
    await runCeilings(ctx, want);
    try {
      await runTessera(ctx, want);
    } finally {
      if (ctx.sink) {
        opts.log(`OTLP sink: ${ctx.sink.exports} exports, ${(ctx.sink.bytes / 1024).toFixed(0)} KiB of spans`);
        await ctx.sink.stop();
      }
    }
    if (opts.cpuProf) {
      const worst = worstCase(judge(results).rows);
      if (worst) profile = { case: worst, path: await profileCase(ctx, worst) };
    }
    // Last: it replaces the stack.
    await runOnThreeShards(ctx, want);
    const { rows, missed, warnings } = judge(results);
    return {
      run: {
        mode: opts.short ? 'short' : 'full',
        users, zipfS: ZIPF_S, warmupS: ctx.warmupS, durationS: ctx.durationS, connections: ctx.connections, writeConnections: ctx.writeConnections,
        startedAt, finishedAt: new Date().toISOString(),
        machine: {
          nproc: cpus().length,
          cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
          node: process.version,
          loadavgStart,
          loadavgEnd: loadavg().map((x) => x.toFixed(2)).join(' '),
        },
        pinning: pin,
      },
      cases: rows, memory, missed, warnings,
      ...(profile && { profile }),
    };
  } finally {
    await stopLeftoverBaselineNginx(BENCH_STACK.dir).catch(() => undefined);
    if (opts.keep) opts.log(`--keep: the stack in ${BENCH_STACK.dir} stays up; stop it with \`npm run down -- --dir ${BENCH_STACK.dir} --purge\``);
    else await stopBenchStack((line) => opts.log(`[stack] ${line}`));
  }
}
