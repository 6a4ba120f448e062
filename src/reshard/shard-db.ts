/**
 * Short-lived connections to shard primaries for the resharding CLI. Shards are
 * found by name in the catalog; an unknown or unreachable one is refused with
 * a clear message before anything changes.
 */
import pg from 'pg';
import type { CatalogStore } from '../catalog/store.js';
import type { ShardEndpoints } from '../db/pools.js';
import { isUnavailable } from '../db/errors.js';
import { redact } from '../db/redact.js';
import { ReshardInputError } from './errors.js';

/** Opens a client (UTC, so row texts compare equal on both sides); the caller ends it. */
export async function openClient(url: string, applicationName: string, connectTimeoutMs = 5000): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName, connectionTimeoutMillis: connectTimeoutMs });
  // A dropped connection surfaces on the next query; do not crash the CLI on the event.
  client.on('error', () => undefined);
  await client.connect();
  await client.query("SET TIME ZONE 'UTC'");
  return client;
}

/** Runs `fn` with a client of `url` and always closes it. */
export async function withClient<T>(url: string, applicationName: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await openClient(url, applicationName);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The catalog's endpoints of `name`; refuses an unknown shard. */
export async function shardEndpoints(store: CatalogStore, name: string): Promise<ShardEndpoints> {
  const all = await store.shards();
  const found = all.find((s) => s.name === name);
  if (!found) {
    throw new ReshardInputError('UNKNOWN_SHARD', `unknown shard "${name}" (the catalog knows: ${all.map((s) => s.name).join(', ') || 'none'})`);
  }
  return found;
}

/** Connects to a shard primary, turning "cannot connect" into a refusal that names the shard. */
export async function connectShard(name: string, url: string, what: 'source' | 'target', applicationName = 'tessera-reshard'): Promise<pg.Client> {
  try {
    return await openClient(url, applicationName, 3000);
  } catch (err) {
    const why = isUnavailable(err) ? 'cannot connect' : 'connection refused by the server';
    throw new ReshardInputError('SHARD_UNREACHABLE', `${what} shard ${name} is unreachable at ${redact(url)} (${why}: ${(err as Error).message})`, { cause: err });
  }
}

