/**
 * `tessera status` for a stack known only by its catalog: the compose and
 * Swarm stacks, where the CLI has no process ids and no stack.json, only
 * TESSERA_CATALOG_URL (and TESSERA_REDIS_URL, BASE_URL). Everything comes
 * from the catalog and from asking each server:
 *  - the shard map in force and each shard's endpoints (the catalog);
 *  - each primary: reachable, not in recovery;
 *  - each replica: in recovery, its WAL receiver streaming, replay lag in
 *    bytes against its primary;
 *  - the app replicas that sent a heartbeat lately, with their map versions;
 *  - Redis PING; the edge's /readyz.
 * Each check is bounded to a few seconds; none throws.
 */
import { Redis } from 'ioredis';
import { CatalogStore } from '../catalog/store.js';
import { formatKeyRange } from '../routing/keyrange.js';
import { ShardMap } from '../routing/shard-map.js';
import { probeReady } from './app.js';
import { withClient } from './pg-instance.js';

/** Health of one server. */
export interface Check {
  name: string;
  ok: boolean;
  /** Human summary: `accepting writes`, `streaming, lag 0 B`, `PONG`… */
  detail: string;
  /** For replicas: bytes of WAL not replayed yet, null while unknown. */
  lagBytes?: number | null;
}

/** Result of {@link collectCatalogStatus}. */
export interface CatalogStackStatus {
  catalog: Check;
  mapVersion: number | null;
  strategy: string | null;
  shards: { name: string; ranges: string[]; primary: Check; replicas: Check[] }[];
  /** App replicas with a heartbeat within `liveWithinMs`. */
  apps: { appId: string; mapVersion: number }[];
  redis: Check | null;
  edge: Check | null;
  healthy: boolean;
}

/** Options of {@link collectCatalogStatus}. */
export interface CatalogStatusOptions {
  catalogUrl: string;
  /** Redis to PING; skipped when absent. */
  redisUrl?: string;
  /** The edge (NGINX) whose /readyz is probed; skipped when absent. */
  baseUrl?: string;
  /** An app replica counts as live with a heartbeat this recent. @default 15000 (three map polls) */
  liveWithinMs?: number;
}

const TIMEOUT_MS = 3000;

/** host:port of a connection URL, without credentials. */
export function endpointOf(url: string, defaultPort = 5432): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || defaultPort}`;
  } catch {
    return '(invalid URL)';
  }
}

function failure(name: string, err: unknown): Check {
  return { name, ok: false, detail: `unreachable: ${err instanceof Error ? err.message : String(err)}` };
}

/** What a primary's check says besides its health: the catalog's epoch and state, and whom its commits wait for. */
interface PrimaryFacts {
  epoch: number | undefined;
  state: string | undefined;
}

async function primaryCheck(name: string, url: string, facts: PrimaryFacts): Promise<{ check: Check; walLsn: string | null }> {
  try {
    return await withClient(url, async (c) => {
      const row = (await c.query<{ r: boolean; lsn: string | null; streaming: string; sync: string }>(
        `SELECT pg_is_in_recovery() AS r,
                CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn,
                (SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming')::text AS streaming,
                current_setting('synchronous_standby_names') AS sync`,
      )).rows[0]!;
      const epoch = facts.epoch === undefined ? '' : `, epoch ${facts.epoch}`;
      const state = facts.state && facts.state !== 'serving' ? `, ${facts.state.toUpperCase()}` : '';
      const sync = row.sync === '' ? 'commits wait for no replica' : `commits wait for ${row.sync}`;
      const detail = row.r ? 'IN RECOVERY (not a primary)' : `accepting writes, ${row.streaming} replica(s) streaming${epoch}${state}, ${sync}`;
      return { check: { name, ok: !row.r, detail }, walLsn: row.lsn };
    }, TIMEOUT_MS);
  } catch (err) {
    return { check: failure(name, err), walLsn: null };
  }
}

async function replicaCheck(name: string, url: string, primaryLsn: string | null): Promise<Check> {
  try {
    return await withClient(url, async (c) => {
      const row = (await c.query<{ r: boolean; status: string | null; lag: string | null }>(
        `SELECT pg_is_in_recovery() AS r,
                (SELECT status FROM pg_stat_wal_receiver) AS status,
                CASE WHEN $1::pg_lsn IS NULL THEN NULL
                     ELSE greatest(pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()), 0)::bigint::text END AS lag`,
        [primaryLsn],
      )).rows[0]!;
      const lagBytes = row.lag === null ? null : Number(row.lag);
      const ok = row.r && row.status === 'streaming';
      const detail = `${row.r ? 'in recovery' : 'NOT in recovery'}, ${row.status ?? 'no WAL receiver'}, lag ${lagBytes === null ? '?' : `${lagBytes} B`}`;
      return { name, ok, detail, lagBytes };
    }, TIMEOUT_MS);
  } catch (err) {
    return failure(name, err);
  }
}

async function redisCheck(url: string): Promise<Check> {
  const name = `redis ${endpointOf(url, 6379)}`;
  const client = new Redis(url, { lazyConnect: true, connectTimeout: TIMEOUT_MS, commandTimeout: TIMEOUT_MS, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const pong = await client.ping();
    return { name, ok: pong === 'PONG', detail: pong };
  } catch (err) {
    return failure(name, err);
  } finally {
    client.disconnect();
  }
}

async function edgeCheck(baseUrl: string): Promise<Check> {
  const r = await probeReady(baseUrl, TIMEOUT_MS);
  const status = typeof r.body?.status === 'string' ? ` ${r.body.status}` : '';
  return { name: `edge ${baseUrl}`, ok: r.ok, detail: r.status === null ? `unreachable (${r.error ?? 'no answer'})` : `/readyz ${r.status}${status}` };
}

/** Asks the catalog and every server it names; bounded, never throws. */
export async function collectCatalogStatus(opts: CatalogStatusOptions): Promise<CatalogStackStatus> {
  const store = new CatalogStore(opts.catalogUrl, { applicationName: 'tessera-status', timeoutMs: TIMEOUT_MS });
  const catalogName = `catalog ${endpointOf(opts.catalogUrl)}`;
  const side = Promise.all([opts.redisUrl ? redisCheck(opts.redisUrl) : null, opts.baseUrl ? edgeCheck(opts.baseUrl) : null]);
  try {
    const [record, endpoints, apps] = await Promise.all([store.latestMap(), store.shards(), store.liveReplicas(opts.liveWithinMs ?? 15_000)]);
    const map = record ? ShardMap.fromRecord(record) : null;
    const shards = await Promise.all(endpoints.map(async (ep) => {
      const { check: primary, walLsn } = await primaryCheck(`${ep.name} primary ${endpointOf(ep.primaryUrl)}`, ep.primaryUrl, { epoch: ep.epoch, state: ep.state });
      const replicas = await Promise.all(ep.replicaUrls.map((url) => replicaCheck(`${ep.name} replica ${endpointOf(url)}`, url, walLsn)));
      const ranges = map ? map.entries.filter((e) => e.shard === ep.name).map((e) => formatKeyRange(e.range)) : [];
      return { name: ep.name, ranges, primary, replicas };
    }));
    const [redis, edge] = await side;
    const catalog: Check = { name: catalogName, ok: map !== null, detail: map ? `shard map v${map.version}` : 'no shard map (run `tessera migrate`)' };
    const checks = [catalog, ...shards.flatMap((s) => [s.primary, ...s.replicas]), ...(redis ? [redis] : []), ...(edge ? [edge] : [])];
    return {
      catalog,
      mapVersion: map?.version ?? null,
      strategy: record?.strategy ?? null,
      shards,
      apps: apps.sort((a, b) => a.appId.localeCompare(b.appId)),
      redis,
      edge,
      healthy: checks.every((c) => c.ok) && apps.length > 0,
    };
  } catch (err) {
    const [redis, edge] = await side;
    return { catalog: failure(catalogName, err), mapVersion: null, strategy: null, shards: [], apps: [], redis, edge, healthy: false };
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** A plain-text report of {@link collectCatalogStatus}'s result, for a terminal. */
export function formatCatalogStatus(s: CatalogStackStatus): string {
  const mark = (c: Check) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(40)} ${c.detail}`;
  const versions = [...new Set(s.apps.map((a) => a.mapVersion))].sort((a, b) => a - b);
  const lines = [
    `stack of ${s.catalog.name}${s.strategy ? `, strategy ${s.strategy}` : ''}`,
    mark(s.catalog),
    'shards:',
  ];
  for (const sh of s.shards) {
    lines.push(`  ${sh.name} ${sh.ranges.join(',') || '(no ranges)'}`);
    lines.push(mark(sh.primary), ...sh.replicas.map(mark));
  }
  lines.push(
    `apps: ${s.apps.length} live${versions.length > 1 ? `; they disagree on the map: ${versions.map((v) => `v${v}`).join(', ')}` : versions.length === 1 ? `, map v${versions[0]}` : ' (none sent a heartbeat lately)'}`,
    ...s.apps.map((a) => `  ${a.appId} map v${a.mapVersion}`),
  );
  if (s.redis) lines.push(mark(s.redis));
  if (s.edge) lines.push(mark(s.edge));
  const failed = [s.catalog, ...s.shards.flatMap((sh) => [sh.primary, ...sh.replicas]), ...(s.redis ? [s.redis] : []), ...(s.edge ? [s.edge] : [])].filter((c) => !c.ok).length;
  lines.push(s.healthy ? 'all healthy' : `${failed} check(s) failed${s.apps.length === 0 ? ', no live app replica' : ''}`);
  return lines.join('\n');
}
