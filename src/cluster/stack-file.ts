/**
 * `<dir>/stack.json`: every endpoint, pid, data folder and log of a local
 * stack. Written by `tessera up`, read by `down`, `status`, the tests and the
 * benchmarks. `readStack` is the one typed way to load it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { StrategyName } from '../catalog/topology.js';
import type { TracingInfo } from './jaeger.js';
import type { MonitoringInfo } from './monitoring.js';

/** One PostgreSQL instance. `pid` is 0 when not started. */
export interface PgInstanceInfo {
  /** Instance name, e.g. `catalog`, `shard-a-primary`, `shard-a-replica-1`. */
  name: string;
  /** Connection string (TCP, 127.0.0.1). */
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Server log (stdout/stderr of the postmaster). */
  log: string;
}

/** A streaming replica of a shard primary. */
export interface ReplicaInfo extends PgInstanceInfo {
  /** Physical replication slot on the primary; also the replica's application_name. */
  slot: string;
  /**
   * A primary demoted by an emergency failover: a standby on disk (it can
   * never take a write), but it may hold WAL the new primary never got, so it
   * serves nothing until `tessera shard rejoin` rebuilds it.
   */
  pendingRejoin?: boolean;
}

/** One shard: its primary, its replicas and the ranges it was seeded with. */
export interface ShardInfo {
  name: string;
  /** Vitess-style ksid ranges at seed time (the catalog is authoritative afterwards). */
  ranges: string[];
  primary: PgInstanceInfo;
  replicas: ReplicaInfo[];
}

/** One app replica. */
export interface AppInfo {
  /** `app-1`, `app-2`, … (also its TESSERA_APP_ID). */
  id: string;
  url: string;
  port: number;
  pid: number;
  log: string;
}

/** The NGINX front. */
export interface NginxInfo {
  url: string;
  port: number;
  pid: number;
  /** Rendered nginx.conf. */
  config: string;
  /** NGINX prefix (`-p`): pid, temp folders. */
  prefix: string;
  /** Request rate per client address, every request, e.g. `2000r/s`. */
  rate: string;
  burst: number;
  /** Request rate per client address for requests without a well-formed bearer token; absent in older stack files. */
  anonRate?: string;
  anonBurst?: number;
  /** Route each user id to one replica (consistent hash) instead of least connections; absent in older stack files. */
  affinity?: boolean;
  workers: number;
  /**
   * App ports in NGINX's upstream (slots), used or not; scaling within them
   * needs no reload. Absent in older stack files: the apps' ports then.
   */
  upstreamPorts?: number[];
  accessLog: string;
  errorLog: string;
}

/** Redis (L2 cache, invalidation channel). */
export interface RedisInfo {
  url: string;
  port: number;
  pid: number;
  pidFile: string;
  log: string;
}

/**
 * Authentication of the stack's apps. `jwt`: tokens are verified against
 * `jwksFile`, and `tessera token` signs with `signingKeyFile` (mode 0600,
 * made by `up`, never in git). `off` (`up --no-auth`): no authentication.
 */
export interface StackAuth {
  mode: 'jwt' | 'off';
  /** Folder of the key files (`<dir>/auth`). */
  dir: string;
  jwksFile: string;
  signingKeyFile: string;
  issuer: string;
  audience: string;
}

/** How the stack runs on this host; needed to restart and to stop it. */
export interface RuntimeInfo {
  /** OS user PostgreSQL runs as when the CLI runs as root; null otherwise. */
  pgOsUser: string | null;
  pgBinDir: string;
  pgVersion: string;
  /** Folder holding every PostgreSQL data folder (`<dir>/pg`, or under /var/tmp when root cannot share `<dir>`). */
  pgRoot: string;
  /** Project root the apps run in. */
  projectRoot: string;
  /** App entry point, relative to projectRoot (TESSERA_APP_ENTRY). */
  appEntry: string;
}

/** Contents of `<dir>/stack.json`. */
export interface StackInfo {
  version: 1;
  /** `starting` while `up` is bringing it up for the first time; `up` once it finished. */
  state: 'starting' | 'up';
  dir: string;
  startedAt: string;
  strategy: StrategyName;
  keyspace: string;
  nginx: NginxInfo;
  apps: AppInfo[];
  catalog: PgInstanceInfo;
  redis: RedisInfo;
  shards: ShardInfo[];
  runtime: RuntimeInfo;
  /** Absent in stack files from before authentication: such a stack gets keys (and auth on) at its next `up`. */
  auth?: StackAuth;
  /** Durability new shards get in the catalog (the catalog is the truth per shard). Absent in older stack files: `sync`. */
  durability?: 'sync' | 'async';
  /** Jaeger and the apps' sampling (`up --tracing`); absent: the apps do not trace. */
  tracing?: TracingInfo;
  /** Prometheus and its exporters (`up --monitoring`); absent: none. */
  monitoring?: MonitoringInfo;
}

/** Path of the stack file of a stack folder. */
export function stackFilePath(dir: string): string {
  return join(resolve(dir), 'stack.json');
}

/** Loads `<dir>/stack.json`; throws with a hint when there is none. */
export function readStack(dir: string): StackInfo {
  const path = stackFilePath(dir);
  if (!existsSync(path)) throw new Error(`no stack at ${resolve(dir)} (no stack.json): run \`npm run up\` first`);
  const info = JSON.parse(readFileSync(path, 'utf8')) as StackInfo;
  if (info.version !== 1) throw new Error(`${path}: unsupported stack file version ${String(info.version)}`);
  return info;
}

/** Loads the stack file, or null when the folder holds none. */
export function tryReadStack(dir: string): StackInfo | null {
  return existsSync(stackFilePath(dir)) ? readStack(dir) : null;
}

/** Writes the stack file atomically (write + rename) so readers never see half a file. */
export async function writeStack(info: StackInfo): Promise<void> {
  const path = stackFilePath(info.dir);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(info, null, 2)}\n`);
  await rename(tmp, path);
}

/** Every PostgreSQL instance of a stack: catalog, then per shard the primary then its replicas. */
export function pgInstances(info: StackInfo): PgInstanceInfo[] {
  return [info.catalog, ...info.shards.flatMap((s) => [s.primary, ...s.replicas])];
}
