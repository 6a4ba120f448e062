/**
 * Which processes of a stack are running, judged from pid files and
 * /proc (cheap, no network). `up` uses it to tell "already up" from "needs a
 * restart"; `status` adds the network checks on top.
 */
import { isOurApp } from './app.js';
import { runningNginxPid } from './nginx.js';
import { runningPgPid } from './pg-instance.js';
import { runningRedisPid } from './redis.js';
import { runningSidecarPid } from './sidecar.js';
import { pgInstances, type StackInfo } from './stack-file.js';

/** One process of the stack and its live pid (null when not running). */
export interface ProcessState {
  name: string;
  kind: 'postgres' | 'redis' | 'app' | 'nginx' | 'observability';
  pid: number | null;
}

/** Every process of the stack with its live pid. */
export function processStates(info: StackInfo): ProcessState[] {
  return [
    ...pgInstances(info).map((i): ProcessState => ({ name: i.name, kind: 'postgres', pid: runningPgPid(i.dataDir) })),
    { name: 'redis', kind: 'redis', pid: runningRedisPid(info.redis) },
    ...info.apps.map((a): ProcessState => ({ name: a.id, kind: 'app', pid: isOurApp(a) ? a.pid : null })),
    { name: 'nginx', kind: 'nginx', pid: runningNginxPid(info.nginx) },
    ...observability(info).map((s): ProcessState => ({ name: s.name, kind: 'observability', pid: runningSidecarPid(s) })),
  ];
}

/** Jaeger, Prometheus and the exporters, when the stack has them. */
export function observability(info: StackInfo) {
  return [...(info.tracing ? [info.tracing.jaeger] : []), ...(info.monitoring ? [info.monitoring.prometheus, ...info.monitoring.exporters] : [])];
}

/** Instances an emergency failover demoted, which wait for `tessera shard rejoin` rather than a restart. */
export function pendingRejoin(info: StackInfo): Set<string> {
  return new Set(info.shards.flatMap((s) => s.replicas.filter((r) => r.pendingRejoin).map((r) => r.name)));
}

/** Names of the processes that are not running (and should be). */
export function deadProcesses(info: StackInfo): string[] {
  const waiting = pendingRejoin(info);
  return processStates(info).filter((p) => p.pid === null && !waiting.has(p.name)).map((p) => p.name);
}

/** True when any process of the stack runs. */
export function anyRunning(info: StackInfo): boolean {
  return processStates(info).some((p) => p.pid !== null);
}
