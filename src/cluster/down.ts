/**
 * `tessera down`: stops every process of a local stack — NGINX (graceful
 * quit), the apps (SIGTERM, SIGKILL past a bound), Redis (SHUTDOWN NOSAVE),
 * PostgreSQL (pg_ctl stop -m fast, replicas first) — and with `purge`
 * deletes its data. Without `purge` the data stays and `up` restarts it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isOurApp, stopApp } from './app.js';
import { stopJaeger } from './jaeger.js';
import { stopMonitoring } from './monitoring.js';
import { runningNginxPid, stopNginx } from './nginx.js';
import { runningPgPid, type PgContext } from './pg-instance.js';
import { withStackLock } from './lock.js';
import { pgContextFor, stopPgStack } from './pg-stack.js';
import { waitForExit } from './proc.js';
import { stderrSink, step, type ProgressSink } from './progress.js';
import { runningRedisPid, stopRedis } from './redis.js';
import { tryReadStack, writeStack, type StackInfo } from './stack-file.js';

/** Options of {@link down}. */
export interface DownOptions {
  /** Stack folder. @default `.tessera` */
  dir?: string;
  /** Also delete data, logs and stack.json. @default false */
  purge?: boolean;
  /** @default stderr */
  log?: ProgressSink;
}

/** What {@link down} did. */
export interface DownResult {
  /** A stack file was found (there was something to stop). */
  found: boolean;
  purged: boolean;
}

/** Stops every process of `info` (those not running are skipped); pids in `info` are zeroed. */
export async function stopStack(info: StackInfo, ctx: PgContext | null, log: ProgressSink): Promise<void> {
  if (info.monitoring) await step(log, 'stopping prometheus and its exporters', () => stopMonitoring(info));
  if (runningNginxPid(info.nginx)) await step(log, 'stopping nginx (graceful quit)', () => stopNginx(info.nginx));
  info.nginx.pid = 0;
  await Promise.all(info.apps.map(async (app) => {
    if (isOurApp(app)) await step(log, `stopping ${app.id} (SIGTERM)`, () => stopApp(app));
    app.pid = 0;
  }));
  if (runningRedisPid(info.redis)) await step(log, 'stopping redis', () => stopRedis(info.redis));
  info.redis.pid = 0;
  // After the apps: their last spans are flushed as they drain.
  if (info.tracing) await step(log, 'stopping jaeger', () => stopJaeger(info));
  await stopPgStack(ctx ?? (await pgContextFor(info)), info, log);
}

/**
 * The folder holding PostgreSQL data when it is outside the stack folder
 * (`/var/tmp/tessera-<hash>`, see preparePgRoot) — deleted with the stack.
 */
export function externalPgHome(info: StackInfo): string | null {
  const pgRoot = resolve(info.runtime.pgRoot);
  if (pgRoot.startsWith(resolve(info.dir) + '/')) return null;
  const home = dirname(pgRoot);
  return dirname(home) === '/var/tmp' && basename(home).startsWith('tessera-') ? home : null;
}

/**
 * No stack.json (an `up` killed before writing it): signal whatever left a
 * postmaster.pid under `<dir>/pg` so that purging does not pull data from
 * under a live server. SIGINT is PostgreSQL's fast shutdown.
 */
async function stopStrayPostgres(dir: string, log: ProgressSink): Promise<void> {
  const pgRoot = join(dir, 'pg');
  if (!existsSync(pgRoot)) return;
  for (const name of readdirSync(pgRoot)) {
    const pid = runningPgPid(join(pgRoot, name));
    if (!pid) continue;
    await step(log, `stopping stray PostgreSQL in ${name} (pid ${pid})`, async () => {
      process.kill(pid, 'SIGINT');
      if (!(await waitForExit(pid, 30_000))) process.kill(pid, 'SIGKILL');
    });
  }
}

/** Stops the stack in `dir` and, with `purge`, deletes it. Safe to run twice. */
export async function down(opts: DownOptions = {}): Promise<DownResult> {
  const dir = resolve(opts.dir ?? '.tessera');
  if (!existsSync(dir)) return { found: false, purged: false };
  return withStackLock(dir, () => downLocked(dir, opts));
}

async function downLocked(dir: string, opts: DownOptions): Promise<DownResult> {
  const log = opts.log ?? stderrSink;
  const info = tryReadStack(dir);
  if (info) {
    await stopStack(info, null, log);
    if (!opts.purge) await writeStack(info);
  } else {
    await stopStrayPostgres(dir, log);
  }
  if (!opts.purge) return { found: info !== null, purged: false };
  const external = info ? externalPgHome(info) : null;
  await step(log, `deleting ${dir}${external ? ` and ${external}` : ''}`, async () => {
    if (external) await rm(external, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  });
  return { found: info !== null, purged: true };
}
