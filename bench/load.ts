/**
 * Runs the load generator (bench/loadgen.ts) as a child process on its own
 * core and samples how busy the server and generator cores were meanwhile:
 * a generator core near 100% with servers below it means the number is the
 * generator's limit, not the server's.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/cluster/index.js';
import { busyShare, cpuTimes, tasksetPrefix, treeCpuSeconds, type Pinning } from './cpu.js';
import type { LoadResult, LoadSpec } from './loadgen.js';

export interface Measured extends LoadResult {
  /** Busy share (0..1) of the server cores / the generator core over warm-up and run, whoever kept them busy. */
  serverCpuBusy: number | null;
  generatorCpuBusy: number | null;
  /** CPU seconds our server processes used over warm-up and run. */
  serverCpuS: number;
  /** Share (0..1) of the server cores our server processes used. */
  serverCpuOurs: number | null;
  /** Share of the server cores other tenants of the machine used meanwhile (busy − ours): noise. */
  serverCpuForeign: number | null;
  /** Requests (warm-up + run) per CPU second of our server processes: throughput with other tenants' load taken out. */
  requestsPerServerCpuS: number | null;
  /** CPU time per request (µs, warm-up + run) of each component: app, nginx, primary, replica, redis, catalog, baseline. */
  cpuUsPerRequest: Partial<Record<Component, number>>;
}

/** The server processes a case's CPU time is split by. */
export type Component = 'app' | 'nginx' | 'primary' | 'replica' | 'redis' | 'catalog' | 'baseline';

/** Root pids of each component's processes (each root's whole tree counts). */
export type ServerGroups = Partial<Record<Component, number[]>>;

function groupCpu(groups: ServerGroups): Partial<Record<Component, number>> {
  const out: Partial<Record<Component, number>> = {};
  for (const [k, roots] of Object.entries(groups) as [Component, number[]][]) out[k] = treeCpuSeconds(roots);
  return out;
}

/** Runs `spec`; `groups` are the pids whose process trees are the servers under test, by component. */
export async function runLoad(spec: LoadSpec, pin: Pinning, groups: ServerGroups = {}): Promise<Measured> {
  const serverRoots = Object.values(groups).flat();
  const [cmd, ...args] = [...tasksetPrefix(pin, pin.generatorCpus), process.execPath, '--import', 'tsx', join('bench', 'loadgen.ts'), JSON.stringify(spec)];
  let before = cpuTimes();
  let cpu0 = treeCpuSeconds(serverRoots);
  let byGroup0 = groupCpu(groups);
  let t0 = performance.now();
  const child = spawn(cmd as string, args, { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let started = false;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!started && out.includes('go\n')) {
      // The generator is up: sample from here, leaving out its start-up.
      started = true;
      before = cpuTimes();
      cpu0 = treeCpuSeconds(serverRoots);
      byGroup0 = groupCpu(groups);
      t0 = performance.now();
    }
  });
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  // A sweep sends a fixed number of requests: allow it 200 req/s at worst.
  const limitMs = (spec.warmupS + spec.durationS + 60 + (spec.amount ?? 0) / 200) * 1000;
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const after = cpuTimes();
  const wallS = (performance.now() - t0) / 1000;
  const serverCpuS = treeCpuSeconds(serverRoots) - cpu0;
  const byGroup1 = groupCpu(groups);
  const line = out.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`load generator failed (exit ${String(code)}):\n${err}${out}`);
  const r = JSON.parse(line) as LoadResult;
  const busy = busyShare(before, after, pin.serverCpus);
  const ours = serverRoots.length > 0 ? Math.min(1, serverCpuS / wallS / pin.serverCpus.length) : null;
  return {
    ...r,
    serverCpuBusy: busy,
    generatorCpuBusy: pin.pinned ? busyShare(before, after, pin.generatorCpus) : null,
    serverCpuS,
    serverCpuOurs: ours,
    serverCpuForeign: busy === null || ours === null || !pin.pinned ? null : Math.max(0, busy - ours),
    requestsPerServerCpuS: serverCpuS > 0 ? (r.requests + r.warmupRequests) / serverCpuS : null,
    cpuUsPerRequest: Object.fromEntries(
      (Object.keys(byGroup1) as Component[]).map((k) => [k, ((byGroup1[k]! - (byGroup0[k] ?? 0)) * 1e6) / Math.max(1, r.requests + r.warmupRequests)]),
    ),
  };
}
