/**
 * One app replica: `node --import tsx <entry>` in the project root, detached
 * (it outlives the CLI), logging to `<dir>/logs/app-<i>.log`; readiness is
 * its `GET /readyz` answering 200.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isAlive, isOurProcess, tailFile, waitForExit, waitUntil } from './proc.js';
import { authEnv } from './auth.js';
import { tracingEnv } from './jaeger.js';
import type { AppInfo, StackAuth, StackInfo } from './stack-file.js';

/** Where apps find the rest of the stack. */
export interface AppWiring {
  catalogUrl: string;
  redisUrl: string;
  projectRoot: string;
  /** Entry point relative to projectRoot, e.g. `src/server.ts`. */
  entry: string;
  /** Extra variables (win over the inherited TESSERA_*; lose to the wiring). */
  env?: Record<string, string>;
  /** The stack's authentication (JWKS file or off); absent means off. */
  auth?: StackAuth;
}

/**
 * How a stack's apps are wired, with `env` on top of the inherited TESSERA_*
 * and OTEL_* variables (and of the stack's own tracing settings).
 */
export function stackWiring(info: StackInfo, env?: Record<string, string>): AppWiring {
  const all = { ...tracingEnv(info.tracing), ...env };
  return {
    catalogUrl: info.catalog.url,
    redisUrl: info.redis.url,
    projectRoot: info.runtime.projectRoot,
    entry: info.runtime.appEntry,
    ...(Object.keys(all).length > 0 && { env: all }),
    ...(info.auth && { auth: info.auth }),
  };
}

/** Host variables an app needs besides its own configuration. */
const PASS_THROUGH = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'];

/**
 * The app's environment: a few host variables, every TESSERA_* and OTEL_*
 * of ours (so `TESSERA_LOG_LEVEL=debug npm run up` reaches the apps, and so
 * do the standard OpenTelemetry variables), then the wiring.
 * Built rather than inherited so that a test runner's variables do not leak in.
 */
export function appEnv(app: AppInfo, w: AppWiring): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (PASS_THROUGH.includes(k) || k.startsWith('TESSERA_') || k.startsWith('OTEL_'))) env[k] = v;
  }
  return {
    ...env,
    ...w.env,
    // The stack decides authentication, not a variable left in the caller's shell.
    ...authEnv(w.auth),
    TESSERA_HOST: '127.0.0.1',
    TESSERA_PORT: String(app.port),
    TESSERA_APP_ID: app.id,
    TESSERA_CATALOG_URL: w.catalogUrl,
    TESSERA_REDIS_URL: w.redisUrl,
  };
}

/** True when `pid` is this app's process (right command line and port), not a reused pid. */
export function isOurApp(app: AppInfo, pid: number | null | undefined = app.pid): boolean {
  if (!pid || !isOurProcess(pid, '--import')) return false;
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`TESSERA_PORT=${app.port}`);
  } catch {
    return true; // no /proc (or not ours to read): the command line check has to do
  }
}

/** Spawns the app detached with output appended to its log; returns its pid (also its process group). */
export function spawnApp(app: AppInfo, w: AppWiring): number {
  mkdirSync(dirname(app.log), { recursive: true });
  const fd = openSync(app.log, 'a');
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', w.entry], {
      cwd: w.projectRoot,
      env: appEnv(app, w),
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    if (!child.pid) throw new Error(`could not spawn ${app.id}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Result of one `/readyz` probe. */
export interface Readiness {
  ok: boolean;
  status: number | null;
  /** Parsed JSON body (the app reports `{ status, mapVersion, … }`), when there is one. */
  body: Record<string, unknown> | null;
  error?: string;
}

/** Probes `GET <url>/readyz`. Never throws. */
export async function probeReady(url: string, timeoutMs = 1000): Promise<Readiness> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      // not JSON: status alone decides
    }
    return { ok: res.status === 200, status: res.status, body };
  } catch (err) {
    return { ok: false, status: null, body: null, error: (err as Error).message };
  }
}

/**
 * Waits until the app answers /readyz with 200. Fails at once if the process
 * exits, and after `timeoutMs` otherwise, with the tail of its log.
 */
export async function waitAppReady(app: AppInfo, pid: number, timeoutMs = 60_000): Promise<void> {
  const failure = (why: string): string => `${app.id} (pid ${pid}, :${app.port}) ${why}; last lines of ${app.log}:\n${tailFile(app.log, 30)}`;
  const ready = await waitUntil(async () => (await probeReady(app.url)).ok, timeoutMs, {
    intervalMs: 250,
    abort: () => (isAlive(pid) ? null : failure('exited before it was ready')),
  });
  if (!ready) throw new Error(failure(`not ready after ${timeoutMs / 1000} s`));
}

/** Starts the app and waits for readiness; returns its pid. Kills it again if it never gets ready. */
export async function startApp(app: AppInfo, w: AppWiring, timeoutMs = 60_000): Promise<number> {
  if (isOurApp(app)) return app.pid;
  const pid = spawnApp(app, w);
  try {
    await waitAppReady(app, pid, timeoutMs);
  } catch (err) {
    await stopApp({ ...app, pid }, 2000);
    throw err;
  }
  return pid;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal); // its process group: anything it spawned goes too
  } catch {
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}

/**
 * SIGTERM (the app drains in-flight requests), then SIGKILL after `graceMs`
 * (default: the app's drain time plus 5 s).
 */
export async function stopApp(app: AppInfo, graceMs = Number(process.env.TESSERA_DRAIN_MS ?? 10_000) + 5000): Promise<void> {
  if (!isOurApp(app)) return;
  signalGroup(app.pid, 'SIGTERM');
  if (await waitForExit(app.pid, graceMs)) return;
  signalGroup(app.pid, 'SIGKILL');
  await waitForExit(app.pid, 5000);
}
