/**
 * NGINX in front of the app replicas: renders nginx/local.conf.template into
 * the stack folder, starts NGINX as a daemon (`nginx -p <prefix> -c <conf>`),
 * reloads it after a settings change (or scaling past the app slots), and
 * stops it.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ANON_BURST_DEFAULT, ANON_RATE_DEFAULT, PROJECT_ROOT, upstreamPorts } from './layout.js';
import { isAlive, isOurProcess, readPidFile, run, tailFile, waitForExit, waitUntil } from './proc.js';
import type { AppInfo, NginxInfo, StackInfo } from './stack-file.js';
import { findBinary } from './which.js';

/** The template every local stack renders. */
export const NGINX_TEMPLATE = join(PROJECT_ROOT, 'nginx', 'local.conf.template');

function nginxBin(): string {
  return findBinary('nginx', 'Install it (apt-get install nginx-light) or run `npm run bootstrap` as root.');
}

function pidFile(info: NginxInfo): string {
  return join(info.prefix, 'nginx.pid');
}

/** Fills the template's `{{NAME}}` placeholders; throws on any left unfilled. */
export function renderNginxConfig(template: string, info: NginxInfo, apps: AppInfo[]): string {
  const slots = upstreamPorts(info, apps);
  const values: Record<string, string> = {
    WORKERS: String(info.workers),
    PID_FILE: pidFile(info),
    ERROR_LOG: info.errorLog,
    ACCESS_LOG: info.accessLog,
    PREFIX: info.prefix,
    PORT: String(info.port),
    RATE: info.rate,
    BURST: String(info.burst),
    // Stack files from before the anonymous zone: its defaults.
    ANON_RATE: info.anonRate ?? ANON_RATE_DEFAULT,
    ANON_BURST: String(info.anonBurst ?? ANON_BURST_DEFAULT),
    BALANCE: info.affinity ? 'hash $tessera_user consistent;' : 'least_conn;',
    // max_fails/fail_timeout: a dead replica or an empty slot is skipped for 5 s
    // instead of tried on every request; a replica started in a slot gets
    // requests within 5 s.
    UPSTREAM_SERVERS: slots.map((port) => `        server 127.0.0.1:${port} max_fails=1 fail_timeout=5s;`).join('\n'),
    // Each server at most once per request: empty slots refuse at once, and
    // the request moves on until a running replica takes it.
    TRIES: String(slots.length),
  };
  const out = template.replace(/\{\{([A-Z_]+)\}\}/g, (m, name: string) => values[name] ?? m);
  const left = /\{\{[A-Z_]+\}\}/.exec(out);
  if (left) throw new Error(`${NGINX_TEMPLATE}: no value for ${left[0]}`);
  return out;
}

/** Renders the config for `apps` into `info.config` and checks it with `nginx -t`. `template`: another one (benchmark ceilings). */
export async function writeNginxConfig(info: NginxInfo, apps: AppInfo[], template = NGINX_TEMPLATE): Promise<void> {
  const rendered = renderNginxConfig(await readFile(template, 'utf8'), info, apps);
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(info.prefix, 'tmp', sub), { recursive: true });
  await mkdir(dirname(info.errorLog), { recursive: true });
  await mkdir(dirname(info.config), { recursive: true });
  await writeFile(info.config, rendered);
  await run(nginxBin(), [...baseArgs(info), '-t', '-q']);
}

/** -e: the error log before the config is read (the compiled-in one may be unwritable). */
function baseArgs(info: NginxInfo): string[] {
  return ['-p', info.prefix, '-c', info.config, '-e', info.errorLog];
}

/** The NGINX master's pid when it runs. */
export function runningNginxPid(info: NginxInfo): number | null {
  const pid = readPidFile(pidFile(info));
  return pid && isOurProcess(pid, 'nginx') ? pid : null;
}

/** True when NGINX answers its own health location. */
export async function nginxReachable(info: NginxInfo, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${info.url}/_nginx/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Renders the config, starts NGINX (it daemonizes) and waits until it answers; returns the master pid. */
export async function startNginx(info: NginxInfo, apps: AppInfo[], template?: string): Promise<number> {
  await writeNginxConfig(info, apps, template);
  const running = runningNginxPid(info);
  if (running) {
    await run(nginxBin(), [...baseArgs(info), '-s', 'reload']);
    return running;
  }
  await run(nginxBin(), baseArgs(info));
  const up = await waitUntil(() => nginxReachable(info), 10_000);
  const pid = runningNginxPid(info);
  if (!up || !pid) throw new Error(`nginx on :${info.port} did not come up; last lines of ${info.errorLog}:\n${tailFile(info.errorLog, 20)}`);
  return pid;
}

/**
 * Re-renders the config for a new app list and reloads NGINX gracefully (old
 * workers finish their requests, but close their idle client connections).
 * For settings changes and `tessera scale` past the upstream slots.
 */
export async function reloadNginx(info: NginxInfo, apps: AppInfo[]): Promise<void> {
  await writeNginxConfig(info, apps);
  if (!runningNginxPid(info)) throw new Error('nginx is not running');
  await run(nginxBin(), [...baseArgs(info), '-s', 'reload']);
}

/** Pids of the NGINX master's worker processes (Linux /proc; empty elsewhere). */
export async function nginxWorkers(masterPid: number): Promise<number[]> {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return pids;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === masterPid) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * Reloads NGINX with `apps` and waits until every worker of the previous
 * configuration has exited: from then on no NGINX process can send a request
 * to a replica that is not in `apps`. Old workers finish their requests
 * first (bounded by worker_shutdown_timeout, 15 s).
 */
export async function reloadNginxAndSettle(info: StackInfo, apps: AppInfo[], timeoutMs = 30_000): Promise<void> {
  const master = runningNginxPid(info.nginx);
  if (!master) throw new Error('nginx is not running; start the stack with `npm run up`');
  const before = await nginxWorkers(master);
  await reloadNginx(info.nginx, apps);
  if (before.length === 0) {
    await sleep(1000); // no /proc: give the master time to swap its workers
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (before.some((pid) => isAlive(pid))) {
    if (Date.now() > deadline) throw new Error(`nginx workers ${before.filter((p) => isAlive(p)).join(', ')} still run ${timeoutMs / 1000} s after the reload; see ${info.nginx.errorLog}`);
    await sleep(100);
  }
}

/** Graceful quit (finish in-flight requests), then SIGTERM/SIGKILL past a bound. */
export async function stopNginx(info: NginxInfo): Promise<void> {
  const pid = runningNginxPid(info);
  if (!pid) return;
  process.kill(pid, 'SIGQUIT');
  if (await waitForExit(pid, 20_000)) return;
  process.kill(pid, 'SIGTERM');
  if (!(await waitForExit(pid, 5000))) process.kill(pid, 'SIGKILL');
}
