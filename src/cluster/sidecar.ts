/**
 * Long-running helper processes of a local stack that do not daemonize
 * themselves (Prometheus, its exporters, Jaeger): spawned detached with
 * their output appended to a log, recorded by pid, stopped with SIGTERM.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { isOurProcess, tailFile, waitForExit, waitUntil } from './proc.js';

/** One helper process as stack.json records it. */
export interface SidecarInfo {
  /** `prometheus`, `jaeger`, `redis-exporter`, … (also what `status` calls it). */
  name: string;
  bin: string;
  args: string[];
  /** Extra environment (the rest is inherited). */
  env?: Record<string, string>;
  /** Where it serves (its health check and what `status` prints). */
  url: string;
  port: number;
  pid: number;
  log: string;
  /** Labels Prometheus puts on what it scrapes from here (exporters: which instance they watch). */
  labels?: Record<string, string>;
}

/** The sidecar's pid when it runs (the pid is ours: its command line names the binary). */
export function runningSidecarPid(s: SidecarInfo): number | null {
  return s.pid && isOurProcess(s.pid, s.bin) ? s.pid : null;
}

/**
 * Starts the sidecar unless it runs, and waits until `ready()` holds;
 * fails with the tail of its log when it exits or is not ready in time.
 */
export async function startSidecar(s: SidecarInfo, ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
  const running = runningSidecarPid(s);
  if (running) return running;
  mkdirSync(dirname(s.log), { recursive: true });
  const fd = openSync(s.log, 'a');
  let pid: number;
  try {
    const child = spawn(s.bin, s.args, { env: { ...process.env, ...s.env }, stdio: ['ignore', fd, fd], detached: true });
    if (!child.pid) throw new Error(`could not spawn ${s.bin}`);
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(fd);
  }
  const ok = await waitUntil(ready, timeoutMs, { intervalMs: 200, abort: () => (isOurProcess(pid, s.bin) ? null : `${s.name} exited at start; last lines of ${s.log}:\n${tailFile(s.log, 20)}`) });
  if (!ok) {
    await stopSidecar({ ...s, pid });
    throw new Error(`${s.name} on :${s.port} was not ready after ${timeoutMs / 1000} s; last lines of ${s.log}:\n${tailFile(s.log, 20)}`);
  }
  return pid;
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopSidecar(s: SidecarInfo, graceMs = 10_000): Promise<void> {
  const pid = runningSidecarPid(s);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  if (await waitForExit(pid, graceMs)) return;
  process.kill(pid, 'SIGKILL');
  await waitForExit(pid, 5000);
}

/** True when `url` answers 2xx within `timeoutMs`. */
export async function answers(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
