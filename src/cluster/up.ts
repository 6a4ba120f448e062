/**
 * `tessera up`: brings a whole local stack up — PostgreSQL catalog, shard
 * primaries and streaming replicas, Redis, app replicas, NGINX — as detached
 * daemons on 127.0.0.1, and records it in `<dir>/stack.json`.
 *
 * - No stack in `dir`: creates one. A failure tears down what was started and
 *   deletes the new data (logs stay) so that the next `up` starts clean.
 * - A stack that is fully up: changes nothing (`alreadyRunning`).
 * - A stack that is stopped or partly down: starts what is missing, as it was
 *   (same ports, same data). Flags are never ignored (see up-flags.ts): NGINX's
 *   settings are applied, a flag that would change the topology or a port is
 *   refused, as is any change to a stack that is fully up.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MigrateOptions } from '../catalog/migrate.js';
import { isOurApp, stackWiring, startApp, type AppWiring } from './app.js';
import { ensureStackKeys, NO_AUTH_WARNING, stackAuth } from './auth.js';
import { applyStackDurability } from './durability.js';
import { planStack, resolveLayoutOptions, seedFromStack, upstreamPorts, type ResolvedLayoutOptions, type StackLayoutOptions } from './layout.js';
import { deadProcesses, processStates } from './liveness.js';
import { withStackLock } from './lock.js';
import { runningNginxPid, startNginx } from './nginx.js';
import { resolvePgBinaries } from './pg-binaries.js';
import type { PgContext } from './pg-instance.js';
import { createPgStack, pgContextFor, startPgStack } from './pg-stack.js';
import { assertPortsFree, type PortClaim } from './ports.js';
import { stderrSink, step, type ProgressSink } from './progress.js';
import { runningRedisPid, startRedis } from './redis.js';
import { ensureServiceUser, preparePgRoot } from './service-user.js';
import { pgInstances, tryReadStack, writeStack, type StackInfo } from './stack-file.js';
import { externalPgHome, stopStack } from './down.js';
import { changedFlags, describeChanges, flagName, NGINX_FLAGS, OBSERVABILITY_FLAGS, RESTART_FLAGS, type FlagChange } from './up-flags.js';
import { ensureJaegerBinary, planTracing, startJaeger } from './jaeger.js';
import { ensureMonitoringTools, planMonitoring, startMonitoring } from './monitoring.js';

/** Applies migrations and seeds the shard map (`src/catalog/migrate.ts` by default). */
export type MigrateFn = (opts: MigrateOptions) => Promise<{ mapVersion: number }>;

/** Options of {@link up}: the layout plus how to report and what to run. */
export interface UpOptions extends StackLayoutOptions {
  /** Progress lines. @default stderr */
  log?: ProgressSink;
  /** Replaces the catalog migration (tests). */
  migrate?: MigrateFn;
  /** How long each app may take to answer /readyz with 200. @default 60 000 */
  readyTimeoutMs?: number;
  /** Extra environment for the apps. */
  appEnv?: Record<string, string>;
}

/** What {@link up} did. */
export interface UpResult {
  stack: StackInfo;
  /** Everything was already running; nothing changed. */
  alreadyRunning: boolean;
  /** An existing, stopped (or partly stopped) stack was started again. */
  restarted: boolean;
  /** Shard-map version the catalog reported after migrating (null when already running). */
  mapVersion: number | null;
}

/** Brings the stack in `opts.dir` up; see the module comment for the three cases. */
export async function up(opts: UpOptions = {}): Promise<UpResult> {
  const o = resolveLayoutOptions(opts);
  return withStackLock(o.dir, () => upLocked(o, opts));
}

async function upLocked(o: ResolvedLayoutOptions, opts: UpOptions): Promise<UpResult> {
  const log = opts.log ?? stderrSink;
  const existing = tryReadStack(o.dir);
  if (existing) {
    if (existing.state !== 'up') {
      throw new Error(`a previous \`up\` in ${o.dir} did not finish. Run \`npm run down -- --purge${dirFlag(o.dir)}\` and try again.`);
    }
    const dead = deadProcesses(existing);
    const changes = changedFlags(existing, opts);
    if (dead.length === 0) {
      if (changes.length > 0) {
        throw new Error(`the stack in ${o.dir} is up and \`up\` does not change a running stack; asked for ${describeChanges(changes)}. ${howToChange(changes, o.dir)}`);
      }
      return { stack: existing, alreadyRunning: true, restarted: false, mapVersion: null };
    }
    const fixed = changes.filter((c) => !RESTART_FLAGS.has(c.flag));
    if (fixed.length > 0) {
      throw new Error(`the stack in ${o.dir} exists and \`up\` starts it as it was laid out; asked for ${describeChanges(fixed)}. Nothing was started. ${howToChange(fixed, o.dir)}`);
    }
    for (const c of changes) log(`applying ${flagName(c.flag)} ${c.asked}${NGINX_FLAGS.has(c.flag) ? ' to NGINX' : ''} (was ${c.was})`);
    // Only what was given (resolveLayoutOptions has validated it); absent flags keep the stack's values.
    const n = existing.nginx;
    existing.nginx = {
      ...n,
      rate: opts.rate ?? n.rate,
      burst: opts.burst ?? n.burst,
      anonRate: opts.anonRate ?? n.anonRate,
      anonBurst: opts.anonBurst ?? n.anonBurst,
      affinity: opts.affinity ?? n.affinity ?? false,
    };
    if (changes.some((c) => OBSERVABILITY_FLAGS.has(c.flag))) applyObservability(existing, o, opts, log);
    // After the flags: turning tracing or monitoring off or on changes which processes belong to the stack.
    log(`restarting stopped processes: ${deadProcesses(existing).join(', ')}`);
    return restart(existing, opts, log);
  }
  if (existsSync(join(o.dir, 'pg')) && readdirSync(join(o.dir, 'pg')).length > 0) {
    throw new Error(`${o.dir} holds data of a stack but no stack.json. Run \`npm run down -- --purge${dirFlag(o.dir)}\` and try again.`);
  }
  return create(o, opts, log);
}

/** What to run instead of `up` with flags that differ from the stack's. */
function howToChange(changes: FlagChange[], dir: string): string {
  const flags = new Set(changes.map((c) => c.flag));
  const hints: string[] = [];
  if (flags.has('apps')) hints.push('`npx tessera scale --apps N` changes the number of apps of a running stack');
  if (flags.has('shards')) hints.push('`npx tessera shard add` and `npx tessera reshard` add shards to a running stack');
  if (flags.has('noAuth')) hints.push('authentication is chosen when a stack is made');
  if (flags.has('durability')) hints.push(`\`npx tessera shard durability <shard> sync|async${dirFlag(dir)}\` changes a shard's durability on a running stack`);
  if ([...flags].some((f) => NGINX_FLAGS.has(f))) hints.push(`NGINX settings apply when it starts: \`npm run down${dirFlag(dir, ' --')}\`, then \`up\` with them`);
  if ([...flags].some((f) => OBSERVABILITY_FLAGS.has(f))) hints.push(`tracing and monitoring apply when the stack starts: \`npm run down${dirFlag(dir, ' --')}\`, then \`up\` with them`);
  hints.push(`\`npm run down -- --purge${dirFlag(dir)}\` deletes the stack and its data, so that \`up\` can lay out a new one`);
  return `${hints.join('; ')}.`;
}

function dirFlag(dir: string, prefix = ''): string {
  return dir === resolveLayoutOptions().dir ? '' : `${prefix} --dir ${dir}`;
}

/** Turns tracing and monitoring on or off (or moves their ports) on a stopped stack, as `up` was asked. */
function applyObservability(info: StackInfo, o: ResolvedLayoutOptions, opts: UpOptions, log: ProgressSink): void {
  if (opts.tracing === false) info.tracing = undefined;
  else if (opts.tracing || (info.tracing && (opts.traceSample !== undefined || opts.jaegerPort !== undefined))) {
    info.tracing = planTracing(info, opts.jaegerPort ?? info.tracing?.jaeger.port ?? o.jaegerPort, opts.traceSample ?? info.tracing?.sample ?? o.traceSample);
  }
  if (opts.monitoring === false) info.monitoring = undefined;
  else if (opts.monitoring || (info.monitoring && opts.prometheusPort !== undefined)) {
    ensureMonitoringTools(log);
    info.monitoring = planMonitoring(info, opts.prometheusPort ?? info.monitoring?.prometheus.port ?? o.prometheusPort);
  }
}

/** Ports of the side processes: Jaeger's three, Prometheus and its two exporters. */
function observabilityClaims(info: StackInfo): (PortClaim & { name: string })[] {
  const claims: (PortClaim & { name: string })[] = [];
  if (info.tracing) {
    const p = info.tracing.jaeger.port;
    claims.push({ name: 'jaeger', port: p, role: 'Jaeger UI' }, { name: 'jaeger', port: p + 1, role: 'Jaeger OTLP/HTTP' }, { name: 'jaeger', port: p + 2, role: 'Jaeger query gRPC' });
  }
  if (info.monitoring) {
    for (const s of [info.monitoring.prometheus, ...info.monitoring.exporters]) claims.push({ name: s.name, port: s.port, role: s.name });
  }
  return claims;
}

function portClaims(info: StackInfo, only?: Set<string>): PortClaim[] {
  const claims: (PortClaim & { name: string })[] = [
    ...observabilityClaims(info),
    ...pgInstances(info).map((i) => ({ name: i.name, port: i.port, role: `PostgreSQL ${i.name}` })),
    { name: 'redis', port: info.redis.port, role: 'Redis' },
    ...info.apps.map((a) => ({ name: a.id, port: a.port, role: `app ${a.id}` })),
    // NGINX would send clients' requests to whatever listens on an empty slot.
    ...spareSlots(info).map((port) => ({ name: SPARE, port, role: 'an empty app slot of NGINX (--app-slots)' })),
    { name: 'nginx', port: info.nginx.port, role: 'NGINX' },
  ];
  return claims.filter((c) => !only || only.has(c.name) || c.name === SPARE);
}

const SPARE = 'spare-slot';

function spareSlots(info: StackInfo): number[] {
  return upstreamPorts(info.nginx, info.apps).filter((port) => !info.apps.some((a) => a.port === port));
}

async function create(o: ResolvedLayoutOptions, opts: UpOptions, log: ProgressSink): Promise<UpResult> {
  // Tools first: a missing one is installed (or built) before anything starts.
  if (o.monitoring) ensureMonitoringTools(log);
  if (o.tracing) ensureJaegerBinary(log);
  const as = await ensureServiceUser();
  const bin = await resolvePgBinaries(as);
  const runtime = { pgOsUser: as?.name ?? null, pgBinDir: bin.binDir, pgVersion: bin.version };
  // Ports first, on a provisional plan: nothing is created when one is busy.
  await assertPortsFree(portClaims(planStack(o, { ...runtime, pgRoot: join(o.dir, 'pg') })));
  await mkdir(join(o.dir, 'logs'), { recursive: true });
  const info = planStack(o, { ...runtime, pgRoot: await preparePgRoot(o.dir, as) });
  await writeStack(info);
  const ctx: PgContext = { as, bin };
  try {
    await createPgStack(ctx, info, log);
    await writeStack(info);
    const mapVersion = await startServices(info, opts, log);
    info.state = 'up';
    await writeStack(info);
    return { stack: info, alreadyRunning: false, restarted: false, mapVersion };
  } catch (err) {
    log('up failed: stopping what was started and deleting the new data (logs stay in ' + join(o.dir, 'logs') + ')');
    await stopStack(info, ctx, () => undefined).catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
    await rm(externalPgHome(info) ?? info.runtime.pgRoot, { recursive: true, force: true });
    for (const f of ['stack.json', 'topology.json', 'redis', 'nginx', 'prometheus', 'jaeger']) await rm(join(o.dir, f), { recursive: true, force: true });
    throw err;
  }
}

async function restart(info: StackInfo, opts: UpOptions, log: ProgressSink): Promise<UpResult> {
  const dead = new Set(processStates(info).filter((p) => p.pid === null).map((p) => p.name));
  await assertPortsFree(portClaims(info, dead));
  const ctx = await pgContextFor(info);
  await startPgStack(ctx, info, log);
  await writeStack(info);
  const mapVersion = await startServices(info, opts, log);
  await writeStack(info);
  return { stack: info, alreadyRunning: false, restarted: true, mapVersion };
}

/** Redis, migrations, apps, NGINX: the part shared by a new stack and a restart. */
async function startServices(info: StackInfo, opts: UpOptions, log: ProgressSink): Promise<number> {
  info.redis.pid = runningRedisPid(info.redis) ?? (await step(log, `starting redis on :${info.redis.port}`, () => startRedis(info.redis)));
  await writeStack(info);

  const seed = seedFromStack(info);
  await writeFile(join(info.dir, 'topology.json'), `${JSON.stringify(seed, null, 2)}\n`);
  const migrate = opts.migrate ?? (await import('../catalog/migrate.js')).migrate;
  const { mapVersion } = await step(log, `migrating catalog and ${info.shards.length} shards (${info.strategy})`, () =>
    migrate({ catalogUrl: info.catalog.url, seed, log: (line) => log(`  ${line}`) }));
  if (!opts.migrate) await step(log, 'applying each shard\'s durability (synchronous standbys)', () => applyStackDurability(info));

  // Before the apps, so that their first spans have somewhere to go.
  await startJaeger(info, log);
  await writeStack(info);

  const auth = stackAuth(info);
  if (await ensureStackKeys(auth)) log(`made a signing key for tokens: ${auth.signingKeyFile} (mode 0600; mint tokens with \`npx tessera token\`)`);
  if (auth.mode === 'off') log(NO_AUTH_WARNING);
  const wiring: AppWiring = stackWiring(info, opts.appEnv);
  try {
    await Promise.all(info.apps.filter((app) => !isOurApp(app)).map(async (app) => {
      app.pid = await step(log, `starting ${app.id} on :${app.port}`, () => startApp(app, wiring, opts.readyTimeoutMs));
    }));
  } finally {
    await writeStack(info); // keep the pids of the apps that did start, for `down`
  }
  const verb = runningNginxPid(info.nginx) ? 'reloading' : 'starting';
  info.nginx.pid = await step(log, `${verb} nginx on :${info.nginx.port} (${info.apps.length} apps in ${upstreamPorts(info.nginx, info.apps).length} upstream slots, ${info.nginx.affinity ? 'user affinity' : 'least connections'})`, () => startNginx(info.nginx, info.apps));
  await writeStack(info);
  try {
    await startMonitoring(info, log);
  } finally {
    await writeStack(info);
  }
  return mapVersion;
}
