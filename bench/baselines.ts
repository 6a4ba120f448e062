/**
 * Starts and stops the ceiling servers (bench/baselines/*.ts) as child
 * processes, and an NGINX in front of the bare one rendered from the same
 * template (and so the same proxy settings) as the stack's NGINX.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT, startNginx, stopNginx, type AppInfo, type NginxInfo, type StackInfo } from '../src/cluster/index.js';
import { BENCH_PORT_OFFSET, BENCH_STACK } from './stack.js';

export type BaselineName = 'bare' | 'redis-get' | 'pg-select' | 'pg-insert';

const PORTS: Record<BaselineName, number> = { bare: 14101 + BENCH_PORT_OFFSET, 'redis-get': 14102 + BENCH_PORT_OFFSET, 'pg-select': 14103 + BENCH_PORT_OFFSET, 'pg-insert': 14104 + BENCH_PORT_OFFSET };
const NGINX_PORT = 18881 + BENCH_PORT_OFFSET;

export interface Running {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts one baseline server and resolves once it listens. */
export async function startBaseline(name: BaselineName, stack: StackInfo, usersFile: string, extraArgs: string[] = []): Promise<Running> {
  const port = PORTS[name];
  const child = spawn(process.execPath, [...extraArgs, '--import', 'tsx', join('bench', 'baselines', `${name}.ts`)], {
    cwd: stack.runtime.projectRoot,
    env: {
      ...process.env,
      BENCH_PORT: String(port),
      BENCH_USERS_FILE: usersFile,
      BENCH_REDIS_URL: stack.redis.url,
      BENCH_PG_PRIMARIES: JSON.stringify(Object.fromEntries(stack.shards.map((s) => [s.name, s.primary.url]))),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitListening(child, name);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    stop: () => stopChild(child),
  };
}

function waitListening(child: ChildProcess, name: string, timeoutMs = 60_000): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`baseline ${name} did not listen within ${timeoutMs / 1000} s:\n${stderr}`));
    }, timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`baseline ${name} exited (${String(code)}) before listening:\n${stderr}`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function baselineNginxInfo(dir: string): NginxInfo {
  const prefix = join(dir, 'nginx-baseline');
  return {
    url: `http://127.0.0.1:${NGINX_PORT}`,
    port: NGINX_PORT,
    pid: 0,
    prefix,
    config: join(prefix, 'nginx.conf'),
    rate: BENCH_STACK.rate,
    burst: BENCH_STACK.burst,
    workers: BENCH_STACK.nginxWorkers,
    accessLog: join(dir, 'logs', 'nginx-baseline-access.log'),
    errorLog: join(dir, 'logs', 'nginx-baseline-error.log'),
  };
}

/** Stops a baseline NGINX an interrupted run left behind (it is not in stack.json, so `down` would miss it). */
export async function stopLeftoverBaselineNginx(dir: string): Promise<void> {
  await stopNginx(baselineNginxInfo(dir));
}

/**
 * An NGINX with one worker proxying to the bare baseline: with the stack's
 * own template (`tessera`: JSON access log, rate limits, request ids, error
 * pages), or with the least a keep-alive reverse proxy needs (`minimal`: no
 * log, no limits, one location), the ceiling the stack's config is held to.
 */
export async function startBaselineNginx(stack: StackInfo, bareUrl: string, config: 'tessera' | 'minimal' = 'tessera'): Promise<Running> {
  const info = baselineNginxInfo(stack.dir);
  const port = Number(new URL(bareUrl).port);
  const upstream: AppInfo = { id: 'bare', url: bareUrl, port, pid: 0, log: '' };
  info.pid = await startNginx(info, [upstream], config === 'minimal' ? MINIMAL_TEMPLATE : undefined);
  return { url: info.url, pid: info.pid, stop: () => stopNginx(info) };
}

const MINIMAL_TEMPLATE = join(PROJECT_ROOT, 'bench', 'baselines', 'nginx-minimal.conf.template');
