/**
 * The stack the benchmark measures: its own folder and ports (so it runs
 * beside `npm run up` and the test stack), brought up fresh and purged after.
 * Between cases the runner restarts app replicas with other settings and
 * points NGINX at a subset of them; the stack file is kept in step so that
 * `down` always stops what runs.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import { appEnv, stackWiring, type AppWiring } from '../src/cluster/app.js';
import { down, reloadNginx, startApp, stopApp, up, waitAppReady, writeStack, type AppInfo, type StackInfo } from '../src/cluster/index.js';
import type { ProgressSink } from '../src/cluster/progress.js';

/**
 * TESSERA_BENCH_PORT_OFFSET moves every port of the run (stack and
 * baselines), for two runs on one machine (the test suite's run of the
 * short benchmark beside a developer's).
 */
export const BENCH_PORT_OFFSET = Number(process.env.TESSERA_BENCH_PORT_OFFSET ?? 0);

export const BENCH_STACK = {
  dir: resolve('.tessera-bench'),
  shards: 2,
  replicas: 1,
  /** Enough for the 1-, 2- and 4-replica cases. */
  apps: 4,
  strategy: 'hash' as const,
  port: 18880 + BENCH_PORT_OFFSET,
  // Below the kernel's ephemeral range (32768+), where an outgoing connection can hold a port for a moment.
  pgBasePort: 26020 + BENCH_PORT_OFFSET,
  redisPort: 17090 + BENCH_PORT_OFFSET,
  appBasePort: 14001 + BENCH_PORT_OFFSET,
  // One worker: NGINX shares the server core(s) with everything else.
  nginxWorkers: 1,
  // The stack's per-client limit_req stays in the config (its cost is part of
  // the NGINX cases) but is raised so one load generator is never throttled.
  rate: '1000000r/s',
  burst: 1_000_000,
};

/**
 * App settings every bench app gets: a short drain so restarts between cases
 * are quick, and a per-caller limit that is on (its cost is part of every
 * case) but far above what one load generator sends with its one token.
 */
const COMMON_APP_ENV = { TESSERA_DRAIN_MS: '2000', TESSERA_RATE_LIMIT: '100000000' };

/**
 * Brings the bench stack up from nothing (purging a leftover of an interrupted
 * run first), with the bench's shards and apps or `size`'s.
 */
export async function startBenchStack(
  appEnv: Record<string, string>,
  log: ProgressSink,
  size: { shards: number; apps: number } = BENCH_STACK,
): Promise<StackInfo> {
  await down({ dir: BENCH_STACK.dir, purge: true, log });
  const { stack } = await up({ ...BENCH_STACK, shards: size.shards, apps: size.apps, appEnv: { ...COMMON_APP_ENV, ...appEnv }, log });
  return stack;
}

export async function stopBenchStack(log: ProgressSink): Promise<void> {
  await down({ dir: BENCH_STACK.dir, purge: true, log });
}

function wiring(stack: StackInfo, env: Record<string, string>): AppWiring {
  return stackWiring(stack, { ...COMMON_APP_ENV, ...env });
}

/**
 * Restarts one app replica with `env` (on top of the defaults) and records its
 * new pid. With `cpuProfDir` it runs under `node --cpu-prof` (a flag Node does
 * not take from NODE_OPTIONS), and writes its profile there when it stops.
 */
export async function restartApp(stack: StackInfo, app: AppInfo, env: Record<string, string>, cpuProfDir?: string): Promise<void> {
  await stopApp(app, 5000);
  app.pid = 0;
  await writeStack(stack);
  const w = wiring(stack, env);
  if (cpuProfDir === undefined) {
    app.pid = await startApp(app, w);
  } else {
    // As spawnApp does, plus the profiler flags.
    const fd = openSync(app.log, 'a');
    try {
      const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, '--import', 'tsx', w.entry], {
        cwd: w.projectRoot, env: appEnv(app, w), stdio: ['ignore', fd, fd], detached: true,
      });
      child.unref();
      app.pid = child.pid ?? 0;
    } finally {
      closeSync(fd);
    }
    await writeStack(stack);
    await waitAppReady(app, app.pid);
  }
  await writeStack(stack);
}

/**
 * Points NGINX at exactly the first `n` app replicas (graceful reload): no
 * empty slots, so that the 1- and 2-replica cases measure NGINX alone.
 */
export async function routeNginxTo(stack: StackInfo, n: number): Promise<void> {
  await reloadNginx({ ...stack.nginx, upstreamPorts: [] }, stack.apps.slice(0, n));
  // Old workers finish and exit; give the new ones a moment before load arrives.
  await new Promise((r) => setTimeout(r, 500));
}
