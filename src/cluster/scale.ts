/**
 * `tessera scale --apps N`: adds or removes app replicas of a running local
 * stack without failing a request.
 *
 * NGINX's upstream lists every app slot from the start (`--app-slots`), so
 * scaling within the slots never reloads NGINX: a reload would close clients'
 * idle keep-alive connections under them.
 *
 * - Up: the new replicas start in the next slots (same configuration as the
 *   running ones) and answer /readyz; NGINX, which skipped their empty slots,
 *   sends them requests within its fail_timeout (5 s). Past the last slot the
 *   upstream is re-rendered with more slots and NGINX reloads, once.
 * - Down: the highest-numbered replicas get SIGTERM and drain: they refuse new
 *   connections (NGINX moves on to the next server, POSTs included), answer
 *   503 to idempotent requests on open ones (NGINX retries those), serve POST
 *   and PATCH, and exit once NGINX has closed their idle connections.
 *
 * stack.json follows each step, so `down` always finds every process.
 */
import { readFileSync } from 'node:fs';
import { isOurApp, stackWiring, startApp, stopApp, type AppWiring } from './app.js';
import { planApp, upstreamPorts } from './layout.js';
import { withStackLock } from './lock.js';
import { reloadNginx, runningNginxPid } from './nginx.js';
import { writeScrapeTargets } from './monitoring.js';
import { assertPortsFree } from './ports.js';
import { stderrSink, step, type ProgressSink } from './progress.js';
import { readStack, writeStack, type AppInfo, type StackInfo } from './stack-file.js';

/** Options of {@link scale}. */
export interface ScaleOptions {
  /** Stack folder. @default `.tessera` */
  dir?: string;
  /** App replicas wanted (≥ 1). */
  apps: number;
  /** Extra environment for new replicas (wins over what is copied from a running one). */
  appEnv?: Record<string, string>;
  /** How long a new replica may take to answer /readyz with 200. @default 60 000 */
  readyTimeoutMs?: number;
  /** @default stderr */
  log?: ProgressSink;
}

/** What {@link scale} did. */
export interface ScaleResult {
  stack: StackInfo;
  added: string[];
  removed: string[];
}

/** Variables the launcher sets per replica; never copied from another one. */
const PER_APP = new Set(['TESSERA_HOST', 'TESSERA_PORT', 'TESSERA_APP_ID', 'TESSERA_CATALOG_URL', 'TESSERA_REDIS_URL']);

/**
 * The TESSERA_* settings of a running replica (from /proc/<pid>/environ), so
 * that replicas added later run like those `up` started (e.g. the test
 * stack's TESSERA_DRAIN_MS). Empty where /proc is not readable.
 */
export function runningAppEnv(apps: AppInfo[]): Record<string, string> {
  for (const app of apps) {
    if (!isOurApp(app)) continue;
    try {
      const env: Record<string, string> = {};
      for (const entry of readFileSync(`/proc/${app.pid}/environ`, 'utf8').split('\0')) {
        const eq = entry.indexOf('=');
        const key = entry.slice(0, eq);
        if (eq > 0 && key.startsWith('TESSERA_') && !PER_APP.has(key)) env[key] = entry.slice(eq + 1);
      }
      return env;
    } catch {
      // not readable: try the next one
    }
  }
  return {};
}

/** Drain time of a running replica (its TESSERA_DRAIN_MS), for the SIGKILL bound. */
function drainMs(env: Record<string, string>): number {
  const ms = Number(env.TESSERA_DRAIN_MS);
  return Number.isInteger(ms) && ms >= 0 ? ms : 10_000;
}

/** Scales the app replicas of the stack in `opts.dir` to `opts.apps`. */
export async function scale(opts: ScaleOptions): Promise<ScaleResult> {
  if (!Number.isInteger(opts.apps) || opts.apps < 1) throw new Error(`--apps must be an integer ≥ 1, got ${opts.apps}`);
  const dir = opts.dir ?? '.tessera';
  return withStackLock(readStack(dir).dir, () => scaleLocked(readStack(dir), opts));
}

async function scaleLocked(info: StackInfo, opts: ScaleOptions): Promise<ScaleResult> {
  const log = opts.log ?? stderrSink;
  if (info.state !== 'up') throw new Error(`the stack in ${info.dir} is not up (state ${info.state}); run \`npm run up\` first`);
  if (!runningNginxPid(info.nginx)) throw new Error(`nginx of the stack in ${info.dir} is not running; run \`npm run up\` to restart what stopped`);
  const inherited = runningAppEnv(info.apps);
  const current = info.apps.length;
  if (opts.apps > current) {
    const added = await scaleUp(info, opts, inherited, log);
    return { stack: info, added, removed: [] };
  }
  if (opts.apps < current) {
    const removed = await scaleDown(info, opts.apps, drainMs(inherited), log);
    return { stack: info, added: [], removed };
  }
  log(`${current} app replicas already; nothing to do`);
  return { stack: info, added: [], removed: [] };
}

async function scaleUp(info: StackInfo, opts: ScaleOptions, inherited: Record<string, string>, log: ProgressSink): Promise<string[]> {
  const fresh = Array.from({ length: opts.apps - info.apps.length }, (_, i) => planApp(info, info.apps.length + i));
  await assertPortsFree(fresh.map((a) => ({ port: a.port, role: `app ${a.id}` })));
  const wiring: AppWiring = stackWiring(info, { ...inherited, ...opts.appEnv });
  const slots = upstreamPorts(info.nginx, info.apps);
  const outside = fresh.filter((app) => !slots.includes(app.port));
  const started: AppInfo[] = [];
  try {
    await Promise.all(fresh.map(async (app) => {
      app.pid = await step(log, `starting ${app.id} on :${app.port}`, () => startApp(app, wiring, opts.readyTimeoutMs));
      started.push(app);
    }));
    const apps = [...info.apps, ...fresh];
    if (outside.length > 0) {
      log(`note: ${outside.map((a) => a.id).join(', ')} lie past NGINX's ${slots.length} app slots; reloading it, which closes idle client ` +
        'keep-alive connections (start the stack with a larger --app-slots to scale without a reload)');
      const nginx = { ...info.nginx, upstreamPorts: upstreamPorts(info.nginx, apps) };
      await step(log, `reloading nginx with ${nginx.upstreamPorts.length} app slots`, () => reloadNginx(nginx, apps));
      info.nginx = nginx;
    } else {
      log(`nginx sends ${fresh.map((a) => a.id).join(', ')} requests within 5 s (their slots were in its upstream already)`);
    }
    info.apps = apps;
    await writeStack(info);
    // Prometheus (up --monitoring) scrapes the new replicas within seconds.
    await writeScrapeTargets(info);
  } catch (err) {
    // NGINX never reached them (their slots were empty, or the reload failed) or may retry elsewhere: stop them.
    await Promise.all(started.map((app) => stopApp(app, 5000)));
    throw err;
  }
  return fresh.map((a) => a.id);
}

async function scaleDown(info: StackInfo, target: number, drain: number, log: ProgressSink): Promise<string[]> {
  const keep = info.apps.slice(0, target);
  const leaving = info.apps.slice(target);
  await Promise.all(leaving.map((app) => step(log, `stopping ${app.id} (SIGTERM: it drains, NGINX moves on)`, () => stopApp(app, drain + 10_000))));
  info.apps = keep;
  await writeStack(info);
  await writeScrapeTargets(info);
  return leaving.map((a) => a.id);
}
