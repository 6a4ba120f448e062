/**
 * Which stack `tessera shard failover|rejoin|history|durability` act on, and
 * how: the local stack in `--dir` (its stack.json, pg_ctl, its lock file), or
 * the compose stack when the CLI runs in its `cli` service (TESSERA_STACK=compose:
 * the catalog in TESSERA_CATALOG_URL, SQL and the instances' entrypoints, a
 * lock in the catalog).
 */
import pg from 'pg';
import { CatalogStore } from '../catalog/store.js';
import type { ShardHost } from '../failover/host.js';
import { composeFailoverHost } from './compose-failover-host.js';
import { localFailoverHost } from './failover-host.js';
import { withStackLock } from './lock.js';
import { pgContextFor } from './pg-stack.js';
import { readStack } from './stack-file.js';

/** A stack as the failover commands see it. */
export interface FailoverStack {
  kind: 'local' | 'compose';
  catalog: CatalogStore;
  host: ShardHost;
  /** Demoted instances of `shard` that a failover left to be rebuilt before they serve again. */
  pendingRejoin(shard: string): string[];
  /** Runs `fn` as the only failover command on this stack (waits for another one, then fails naming it). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Whether this process runs in the compose stack's `cli` (or `migrate`) service. */
export function isComposeStack(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.TESSERA_STACK === 'compose';
}

/**
 * Holds a session advisory lock in the catalog while `fn` runs: the compose
 * stack's `cli` containers share no folder, but they share the catalog. A
 * killed CLI's lock goes with its connection.
 */
async function withCatalogLock<T>(url: string, name: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'tessera-failover-lock', connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (!(await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [name])).rows[0]!.ok) {
      if (Date.now() > deadline) throw new Error(`another tessera shard command is working on this stack (it holds the catalog's lock "${name}")`);
      await new Promise((r) => setTimeout(r, 250));
    }
    return await fn();
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The stack the failover commands act on (see the module comment); close it when done. */
export async function openFailoverStack(dir: string): Promise<FailoverStack> {
  if (isComposeStack()) {
    const url = process.env.TESSERA_CATALOG_URL;
    if (!url) throw new Error('TESSERA_STACK=compose needs TESSERA_CATALOG_URL (the cli service of docker-compose.yml sets both)');
    const catalog = new CatalogStore(url, { applicationName: 'tessera-failover' });
    try {
      const host = await composeFailoverHost(catalog);
      const shards = new Map((await catalog.shards()).map((s) => [s.name, s]));
      return {
        kind: 'compose',
        catalog,
        host,
        // Every instance the catalog does not list as primary or replica: the entrypoint already made it a standby when it started.
        pendingRejoin: (shard) => {
          const ep = shards.get(shard);
          return (host.instances(shard)?.replicas ?? []).filter((r) => ep && !ep.replicaUrls.includes(r.url)).map((r) => r.name);
        },
        exclusive: (fn) => withCatalogLock(url, 'tessera shard failover', fn),
        close: () => catalog.close(),
      };
    } catch (err) {
      await catalog.close();
      throw err;
    }
  }
  const stack = readStack(dir);
  const host = localFailoverHost(stack.dir, await pgContextFor(stack));
  const catalog = new CatalogStore(stack.catalog.url, { applicationName: 'tessera-failover' });
  return {
    kind: 'local',
    catalog,
    host,
    pendingRejoin: (shard) => (readStack(dir).shards.find((s) => s.name === shard)?.replicas ?? []).filter((r) => r.pendingRejoin).map((r) => r.name),
    exclusive: (fn) => withStackLock(stack.dir, fn),
    close: () => catalog.close(),
  };
}
