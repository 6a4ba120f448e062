/**
 * `tessera status`: the topology of a local stack and the health of every
 * process — pid alive, app /readyz and its shard-map version, PostgreSQL
 * reachable / in recovery / replica lag, Redis PING, NGINX reachable.
 */
import { probeReady } from './app.js';
import { observability, processStates } from './liveness.js';
import { answers } from './sidecar.js';
import { upstreamPorts } from './layout.js';
import { nginxReachable } from './nginx.js';
import { syncStandbys } from '../failover/pg-ops.js';
import { withClient } from './pg-instance.js';
import { isInRecovery, replicationRows, type ReplicationRow } from './pg-replication.js';
import { pingRedis } from './redis.js';
import type { PgInstanceInfo, StackInfo } from './stack-file.js';

/** Health of one process. */
export interface ComponentHealth {
  name: string;
  kind: 'postgres' | 'redis' | 'app' | 'nginx' | 'observability';
  port: number;
  /** Live pid, null when the process is not running. */
  pid: number | null;
  /** Alive and answering as it should. */
  ok: boolean;
  /** Human summary: `primary, 1 replica streaming`, `ready, map v3`, `lag 0 B`… */
  detail: string;
  /** For apps: the shard-map version they route with. */
  mapVersion?: number;
  /** For replicas: bytes of WAL not replayed yet, per the primary. */
  lagBytes?: number | null;
}

/** One shard as stack.json and the catalog describe it. */
export interface ShardStatus {
  name: string;
  ranges: string[];
  /** Instance name of the primary now (a failover may have moved it). */
  primary: string;
  replicas: string[];
  /** From the catalog; absent when the catalog does not answer. */
  epoch?: number;
  state?: string;
  durability?: string;
  /** The primary's synchronous standbys (`ANY 1 (…)`), empty when commits do not wait. */
  syncStandbys?: string;
  failovers?: number;
  /** Replicas an emergency failover demoted, waiting for `tessera shard rejoin`. */
  pendingRejoin: string[];
}

/** Result of {@link collectStatus}. */
export interface StackStatus {
  dir: string;
  strategy: string;
  startedAt: string;
  shards: ShardStatus[];
  /** Distinct map versions the apps report (one when they agree). */
  mapVersions: number[];
  components: ComponentHealth[];
  /** Every component ok. */
  healthy: boolean;
}

async function pgHealth(inst: PgInstanceInfo, pid: number | null, role: 'primary' | 'replica' | 'catalog', rows?: ReplicationRow[], slot?: string, pending = false): Promise<ComponentHealth> {
  const base = { name: inst.name, kind: 'postgres' as const, port: inst.port, pid };
  if (pending && !pid) return { ...base, ok: false, detail: 'demoted by an emergency failover; `tessera shard rejoin` brings it back' };
  if (!pid) return { ...base, ok: false, detail: 'not running' };
  try {
    const inRecovery = await isInRecovery(inst.url);
    if (role === 'replica') {
      const row = rows?.find((r) => r.name === slot);
      const lag = row?.lagBytes ?? null;
      const ok = inRecovery && row?.state === 'streaming';
      return { ...base, ok, lagBytes: lag, detail: `${inRecovery ? 'in recovery' : 'NOT in recovery'}, ${row ? row.state : 'not connected to primary'}, lag ${lag === null ? '?' : `${lag} B`}` };
    }
    const streaming = rows?.filter((r) => r.state === 'streaming').length ?? 0;
    return { ...base, ok: !inRecovery, detail: `${inRecovery ? 'IN RECOVERY' : 'accepting writes'}${role === 'primary' ? `, ${streaming} replica(s) streaming` : ''}` };
  } catch (err) {
    return { ...base, ok: false, detail: `unreachable: ${(err as Error).message}` };
  }
}

/** Checks every process of the stack (in parallel; each check is bounded to a few seconds). */
export async function collectStatus(info: StackInfo): Promise<StackStatus> {
  const pids = new Map(processStates(info).map((p) => [p.name, p.pid]));
  const pidOf = (name: string): number | null => pids.get(name) ?? null;

  const pgChecks: Promise<ComponentHealth>[] = [pgHealth(info.catalog, pidOf(info.catalog.name), 'catalog')];
  for (const shard of info.shards) {
    const rows = pidOf(shard.primary.name) ? await replicationRows(shard.primary.url).catch(() => []) : [];
    pgChecks.push(pgHealth(shard.primary, pidOf(shard.primary.name), 'primary', rows));
    for (const r of shard.replicas) pgChecks.push(pgHealth(r, pidOf(r.name), 'replica', rows, r.slot, r.pendingRejoin === true));
  }
  const redisCheck = (async (): Promise<ComponentHealth> => {
    const pid = pidOf('redis');
    const pong = pid ? await pingRedis(info.redis.port) : false;
    return { name: 'redis', kind: 'redis', port: info.redis.port, pid, ok: pong, detail: !pid ? 'not running' : pong ? 'PONG' : 'no answer to PING' };
  })();
  const appChecks = info.apps.map(async (app): Promise<ComponentHealth> => {
    const pid = pidOf(app.id);
    const base = { name: app.id, kind: 'app' as const, port: app.port, pid };
    if (!pid) return { ...base, ok: false, detail: 'not running' };
    const r = await probeReady(app.url, 2000);
    const mv = typeof r.body?.mapVersion === 'number' ? r.body.mapVersion : undefined;
    const what = r.status === null ? `unreachable (${r.error ?? 'no answer'})` : `/readyz ${r.status}${typeof r.body?.status === 'string' ? ` ${r.body.status}` : ''}`;
    return { ...base, ok: r.ok, detail: `${what}${mv !== undefined ? `, map v${mv}` : ''}`, ...(mv !== undefined ? { mapVersion: mv } : {}) };
  });
  const nginxCheck = (async (): Promise<ComponentHealth> => {
    const pid = pidOf('nginx');
    const reachable = pid ? await nginxReachable(info.nginx, 2000) : false;
    return { name: 'nginx', kind: 'nginx', port: info.nginx.port, pid, ok: reachable, detail: !pid ? 'not running' : reachable ? `reachable at ${info.nginx.url}; ${info.apps.length} of ${upstreamPorts(info.nginx, info.apps).length} app slots in use` : 'not answering' };
  })();

  const sidecarChecks = observability(info).map(async (s): Promise<ComponentHealth> => {
    const pid = pidOf(s.name);
    const health = s.name === 'prometheus' ? `${s.url}/-/ready` : s.name === 'jaeger' ? `${s.url}/api/services` : s.url;
    const ok = pid !== null && (await answers(health, 2000));
    return { name: s.name, kind: 'observability', port: s.port, pid, ok, detail: !pid ? 'not running' : ok ? `answering at ${s.name === 'jaeger' || s.name === 'prometheus' ? s.url : health}` : 'not answering' };
  });
  const [components, catalogShards] = await Promise.all([Promise.all([...pgChecks, redisCheck, ...appChecks, nginxCheck, ...sidecarChecks]), catalogView(info)]);
  const mapVersions = [...new Set(components.flatMap((c) => (c.mapVersion === undefined ? [] : [c.mapVersion])))].sort((a, b) => a - b);
  return {
    dir: info.dir,
    strategy: info.strategy,
    startedAt: info.startedAt,
    shards: info.shards.map((s) => ({
      name: s.name, ranges: s.ranges, primary: s.primary.name, replicas: s.replicas.map((r) => r.name),
      pendingRejoin: s.replicas.filter((r) => r.pendingRejoin).map((r) => r.name),
      ...catalogShards.get(s.name),
    })),
    mapVersions,
    components,
    healthy: components.every((c) => c.ok),
  };
}

/** Each shard's epoch, state, durability, synchronous standbys and failover count, per the catalog and its primary. */
async function catalogView(info: StackInfo): Promise<Map<string, Partial<ShardStatus>>> {
  const out = new Map<string, Partial<ShardStatus>>();
  try {
    await withClient(info.catalog.url, async (c) => {
      const { rows } = await c.query<{ name: string; epoch: string; state: string; durability: string; primary_url: string; failovers: string }>(
        `SELECT s.name, s.epoch::text, s.state, s.durability, s.primary_url,
                (SELECT count(*) FROM shard_failovers f WHERE f.shard = s.name)::text AS failovers
           FROM shards s`,
      );
      for (const r of rows) out.set(r.name, { epoch: Number(r.epoch), state: r.state, durability: r.durability, failovers: Number(r.failovers) });
      await Promise.all(rows.map(async (r) => {
        const sync = await syncStandbys(r.primary_url).catch(() => undefined);
        if (sync !== undefined) out.get(r.name)!.syncStandbys = sync;
      }));
    }, 3000);
  } catch {
    // A catalog that does not answer shows in the components; the shards then show what stack.json says.
  }
  return out;
}

function shardLine(sh: ShardStatus): string {
  const facts = [
    sh.epoch !== undefined ? `epoch ${sh.epoch}` : '',
    sh.state !== undefined && sh.state !== 'serving' ? sh.state.toUpperCase() : '',
    sh.durability !== 'sync' ? sh.durability ?? ''
      : sh.syncStandbys ? `sync: ${sh.syncStandbys}`
        : sh.replicas.length === 0 ? 'sync, but no replica: commits do not wait' : 'sync, but no synchronous standby set: commits do not wait',
    sh.failovers ? `${sh.failovers} failover(s): tessera shard history ${sh.name}` : '',
    sh.pendingRejoin.length ? `waiting for rejoin: ${sh.pendingRejoin.join(', ')}` : '',
  ].filter(Boolean);
  return `  ${sh.name.padEnd(10)} ${sh.ranges.join(',').padEnd(12)} primary ${sh.primary}${sh.replicas.length ? `, replicas ${sh.replicas.join(', ')}` : ''}${facts.length ? ` (${facts.join('; ')})` : ''}`;
}

/** A plain-text report of {@link collectStatus}'s result, for a terminal. */
export function formatStatus(s: StackStatus): string {
  const lines = [
    `stack ${s.dir} (started ${s.startedAt}), strategy ${s.strategy}`,
    `shard map: ${s.mapVersions.length === 0 ? 'unknown (no app reported one)' : s.mapVersions.length === 1 ? `v${s.mapVersions[0]}` : `apps disagree: ${s.mapVersions.map((v) => `v${v}`).join(', ')}`}`,
    'shards:',
    ...s.shards.map(shardLine),
    'processes:',
  ];
  const width = Math.max(...s.components.map((c) => c.name.length));
  for (const c of s.components) {
    lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(width)} :${String(c.port).padEnd(5)} pid ${String(c.pid ?? '-').padEnd(7)} ${c.detail}`);
  }
  lines.push(s.healthy ? 'all healthy' : `${s.components.filter((c) => !c.ok).length} component(s) unhealthy`);
  return lines.join('\n');
}
