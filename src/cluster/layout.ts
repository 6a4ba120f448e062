/**
 * Options of `tessera up` and the layout they give: names, ports, folders and
 * URLs of every process, computed before anything starts (pure).
 */
import { join, resolve } from 'node:path';
import type { StrategyName, TopologySeed } from '../catalog/topology.js';
import { planAuth } from './auth.js';
import { planTracing } from './jaeger.js';
import { planMonitoring } from './monitoring.js';
import { evenRanges } from './key-ranges.js';
import { pgInstances, type AppInfo, type NginxInfo, type PgInstanceInfo, type ReplicaInfo, type ShardInfo, type StackInfo } from './stack-file.js';

/** Sizes, ports and limits of a local stack. Every field has a default. */
export interface StackLayoutOptions {
  /** Stack folder (data, logs, stack.json). @default `.tessera` */
  dir?: string;
  /** @default 2 */
  shards?: number;
  /** Streaming replicas per shard primary. @default 1 */
  replicas?: number;
  /** App replicas behind NGINX. @default 2 */
  apps?: number;
  /**
   * App ports NGINX's upstream lists from the start (≥ apps): `tessera scale`
   * within them starts or stops replicas without reloading NGINX, because a
   * reload closes clients' idle keep-alive connections. Empty slots cost one
   * refused connect per slot every 5 s under load. @default max(apps, 4)
   */
  appSlots?: number;
  /** @default `hash` */
  strategy?: StrategyName;
  /** NGINX port (where clients send requests). @default 8080 */
  port?: number;
  /** Catalog port; shard primaries and replicas take the ports after it. @default 15432 */
  pgBasePort?: number;
  /** @default 6390 */
  redisPort?: number;
  /** First app port; app i listens on appBasePort + i - 1. @default 3001 */
  appBasePort?: number;
  /** NGINX rate limit per client address, every request; generous, a ceiling against floods. @default `2000r/s` */
  rate?: string;
  /** @default 4000 */
  burst?: number;
  /** NGINX rate limit per client address for requests without a well-formed bearer token. @default `20r/s` */
  anonRate?: string;
  /** @default 40 */
  anonBurst?: number;
  /** Apps without authentication (`up --no-auth`), for local experiments only. @default false */
  noAuth?: boolean;
  /**
   * `sync`: each shard primary's commits wait until one of its replicas has
   * them (an acknowledged write survives losing the primary); `async`: they
   * do not. Shards without replicas are async either way. @default `sync`
   */
  durability?: 'sync' | 'async';
  /**
   * NGINX sends every request for one user id to the same app replica
   * (consistent hash on the id in the path) instead of least connections, so
   * each replica's L1 caches a different part of the users. @default false
   */
  affinity?: boolean;
  /** @default 2 */
  nginxWorkers?: number;
  /** Write exact range boundaries (`5555555555555555`) instead of Vitess' short names (`55`). @default false */
  exactRanges?: boolean;
  /** App entry point relative to the project root. @default TESSERA_APP_ENTRY or `src/server.ts` */
  appEntry?: string;
  /** Jaeger beside the stack and the apps tracing into it (OpenTelemetry, OTLP). @default false */
  tracing?: boolean;
  /** Share of new traces the apps sample with `tracing` (a caller's sampled traceparent is always followed). @default 1 */
  traceSample?: number;
  /** Jaeger's UI and query port; OTLP/HTTP on the next port, its query gRPC on the one after. @default 16686 */
  jaegerPort?: number;
  /** Prometheus beside the stack, scraping every app, Redis and PostgreSQL, with the alert rules. @default false */
  monitoring?: boolean;
  /** Prometheus's port; the Redis and PostgreSQL exporters take the next two. @default 9090 */
  prometheusPort?: number;
}

/** NGINX's budget per address for requests without a well-formed bearer token (health probes, mistakes, floods). */
export const ANON_RATE_DEFAULT = '20r/s';
export const ANON_BURST_DEFAULT = 40;

/** The role, database and password of every instance (trust auth on 127.0.0.1 anyway). */
export const PG_USER = 'tessera';
export const PG_PASSWORD = 'tessera';
export const SHARD_DATABASE = 'tessera';
export const CATALOG_DATABASE = 'tessera_catalog';
export const KEYSPACE = 'tessera';

import { PROJECT_ROOT } from './project-root.js';

export { PROJECT_ROOT };

/** Connection string of a database on a local instance. */
export function pgUrl(port: number, database: string): string {
  return `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/${database}`;
}

/** `shard-a`, `shard-b`, … `shard-z`, `shard-aa`, … */
export function shardName(index: number): string {
  let n = index;
  let s = '';
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return `shard-${s}`;
}

/**
 * The app ports NGINX's upstream lists: the stack's slots plus any app
 * outside them (stack files written before slots existed have none).
 */
export function upstreamPorts(nginx: NginxInfo, apps: AppInfo[]): number[] {
  const ports = [...(nginx.upstreamPorts ?? [])];
  for (const app of apps) if (!ports.includes(app.port)) ports.push(app.port);
  return ports;
}

/** Replication slot names allow only [a-z0-9_]. */
export function slotName(replicaName: string): string {
  return replicaName.replace(/[^a-z0-9_]/g, '_');
}

function positiveInt(value: number, what: string, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new Error(`${what} must be an integer ≥ ${min}, got ${value}`);
  return value;
}

/** Options with every default filled in. */
export type ResolvedLayoutOptions = Required<StackLayoutOptions>;

/** Fills defaults and validates. */
export function resolveLayoutOptions(opts: StackLayoutOptions = {}): ResolvedLayoutOptions {
  const strategy = opts.strategy ?? 'hash';
  if (strategy !== 'hash' && strategy !== 'range') throw new Error(`strategy must be hash or range, got ${String(strategy)}`);
  const rate = opts.rate ?? '2000r/s';
  const apps = positiveInt(opts.apps ?? 2, 'apps', 1);
  const anonRate = opts.anonRate ?? ANON_RATE_DEFAULT;
  for (const r of [rate, anonRate]) if (!/^\d+r\/[sm]$/.test(r)) throw new Error(`rates must look like 2000r/s or 600r/m, got ${r}`);
  return {
    dir: resolve(opts.dir ?? '.tessera'),
    shards: positiveInt(opts.shards ?? 2, 'shards', 1),
    replicas: positiveInt(opts.replicas ?? 1, 'replicas', 0),
    apps,
    appSlots: positiveInt(opts.appSlots ?? Math.max(apps, 4), 'appSlots', apps),
    strategy,
    port: positiveInt(opts.port ?? 8080, 'port', 1),
    pgBasePort: positiveInt(opts.pgBasePort ?? 15432, 'pgBasePort', 1),
    redisPort: positiveInt(opts.redisPort ?? 6390, 'redisPort', 1),
    appBasePort: positiveInt(opts.appBasePort ?? 3001, 'appBasePort', 1),
    rate,
    burst: positiveInt(opts.burst ?? 4000, 'burst', 0),
    anonRate,
    anonBurst: positiveInt(opts.anonBurst ?? ANON_BURST_DEFAULT, 'anonBurst', 0),
    noAuth: opts.noAuth ?? false,
    durability: opts.durability ?? 'sync',
    affinity: opts.affinity ?? false,
    nginxWorkers: positiveInt(opts.nginxWorkers ?? 2, 'nginxWorkers', 1),
    exactRanges: opts.exactRanges ?? false,
    appEntry: opts.appEntry ?? (process.env.TESSERA_APP_ENTRY || 'src/server.ts'),
    tracing: opts.tracing ?? false,
    traceSample: opts.traceSample ?? 1,
    jaegerPort: positiveInt(opts.jaegerPort ?? 16686, 'jaegerPort', 1),
    monitoring: opts.monitoring ?? false,
    prometheusPort: positiveInt(opts.prometheusPort ?? 9090, 'prometheusPort', 1),
  };
}

/** Host facts the layout needs but options do not give. */
export interface LayoutRuntime {
  pgRoot: string;
  pgOsUser: string | null;
  pgBinDir: string;
  pgVersion: string;
}

/** The planned stack: every name, port, folder and URL; pids are 0 until started. */
export function planStack(o: ResolvedLayoutOptions, rt: LayoutRuntime): StackInfo {
  const logs = join(o.dir, 'logs');
  const pg = (name: string, port: number, database: string): PgInstanceInfo => ({
    name, port, pid: 0, url: pgUrl(port, database), dataDir: join(rt.pgRoot, name), log: join(logs, `pg-${name}.log`),
  });
  const ranges = evenRanges(o.shards, o.exactRanges);
  let nextPort = o.pgBasePort + 1;
  const shards: ShardInfo[] = ranges.map((range, i) => {
    const name = shardName(i);
    const primary = pg(`${name}-primary`, nextPort++, SHARD_DATABASE);
    const replicas: ReplicaInfo[] = [];
    for (let r = 1; r <= o.replicas; r++) {
      const inst = pg(`${name}-replica-${r}`, nextPort++, SHARD_DATABASE);
      replicas.push({ ...inst, slot: slotName(inst.name) });
    }
    return { name, ranges: [range], primary, replicas };
  });
  const nginxPrefix = join(o.dir, 'nginx');
  const info: StackInfo = {
    version: 1,
    state: 'starting',
    dir: o.dir,
    startedAt: new Date().toISOString(),
    strategy: o.strategy,
    keyspace: KEYSPACE,
    nginx: {
      url: `http://127.0.0.1:${o.port}`, port: o.port, pid: 0, prefix: nginxPrefix, config: join(nginxPrefix, 'nginx.conf'),
      rate: o.rate, burst: o.burst, anonRate: o.anonRate, anonBurst: o.anonBurst, affinity: o.affinity, workers: o.nginxWorkers, accessLog: join(logs, 'nginx-access.log'), errorLog: join(logs, 'nginx-error.log'),
      upstreamPorts: Array.from({ length: o.appSlots }, (_, i) => o.appBasePort + i),
    },
    apps: Array.from({ length: o.apps }, (_, i) => {
      const port = o.appBasePort + i;
      return { id: `app-${i + 1}`, url: `http://127.0.0.1:${port}`, port, pid: 0, log: join(logs, `app-${i + 1}.log`) };
    }),
    catalog: pg('catalog', o.pgBasePort, CATALOG_DATABASE),
    redis: { url: `redis://127.0.0.1:${o.redisPort}`, port: o.redisPort, pid: 0, pidFile: join(o.dir, 'redis', 'redis.pid'), log: join(logs, 'redis.log') },
    shards,
    runtime: { ...rt, projectRoot: PROJECT_ROOT, appEntry: o.appEntry },
    auth: planAuth(o.dir, o.noAuth ? 'off' : 'jwt'),
    durability: o.durability,
    ...(o.tracing && { tracing: planTracing(o, o.jaegerPort, o.traceSample) }),
  };
  if (o.monitoring) info.monitoring = planMonitoring(info, o.prometheusPort);
  return info;
}

/**
 * The app entry a stack would get as its `index`-th app (0-based): its
 * upstream slot's port, or past the last slot the port after the highest one
 * in use. For `tessera scale --apps N`.
 */
export function planApp(info: StackInfo, index: number): AppInfo {
  const slots = upstreamPorts(info.nginx, info.apps);
  const port = slots[index] ?? Math.max(...slots) + 1 + index - slots.length;
  const id = `app-${index + 1}`;
  return { id, url: `http://127.0.0.1:${port}`, port, pid: 0, log: join(info.dir, 'logs', `${id}.log`) };
}

/**
 * A new shard for an existing stack (`tessera shard add`): the next shard name,
 * ports after the highest PostgreSQL port in use, no ranges yet (a reshard
 * gives it some).
 */
export function planShard(info: StackInfo, replicas: number): ShardInfo {
  let port = Math.max(...pgInstances(info).map((i) => i.port)) + 1;
  const name = shardName(info.shards.length);
  const pg = (instName: string): PgInstanceInfo => ({
    name: instName, port: port++, pid: 0, url: pgUrl(port - 1, SHARD_DATABASE),
    dataDir: join(info.runtime.pgRoot, instName), log: join(info.dir, 'logs', `pg-${instName}.log`),
  });
  const primary = pg(`${name}-primary`);
  const reps: ReplicaInfo[] = Array.from({ length: replicas }, (_, r) => {
    const inst = pg(`${name}-replica-${r + 1}`);
    return { ...inst, slot: slotName(inst.name) };
  });
  return { name, ranges: [], primary, replicas: reps };
}

/** The topology seed handed to `migrate` (and written to `<dir>/topology.json`). */
export function seedFromStack(info: StackInfo): TopologySeed {
  return {
    keyspace: info.keyspace,
    strategy: info.strategy,
    shards: info.shards.map((s) => ({ name: s.name, primary: s.primary.url, replicas: s.replicas.map((r) => r.url), ranges: s.ranges, durability: info.durability ?? 'sync' })),
  };
}
