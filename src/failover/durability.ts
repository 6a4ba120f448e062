/**
 * Per-shard durability. `sync`: the primary's commits wait until one of the
 * shard's replicas (ANY 1) has flushed them, so an acknowledged write
 * survives losing the primary; with one replica, that replica being down
 * stalls the shard's writes until it is back (or the shard is made async).
 * `async`: commits do not wait; a failover can lose what the replicas had not
 * received (bounded by their lag).
 */
import type { CatalogStore } from '../catalog/store.js';
import type { Durability } from '../db/pools.js';
import type { InstanceRef } from './host.js';
import { setSyncStandbys } from './pg-ops.js';

/**
 * Applies the catalog's durability of `shard` to its primary: the replicas
 * the catalog lists (of `replicas`, the host's) are its synchronous standbys.
 */
export async function applyDurability(catalog: CatalogStore, shard: string, replicas: InstanceRef[]): Promise<string[]> {
  const ep = await catalog.shard(shard);
  if (!ep) throw new Error(`no shard ${shard}`);
  const listed = new Set(ep.replicaUrls);
  const standbys = ep.durability === 'async' ? [] : replicas.filter((r) => listed.has(r.url)).map((r) => r.slot);
  await setSyncStandbys(ep.primaryUrl, standbys);
  return standbys;
}

/** Sets a shard's durability in the catalog and on its primary (`replicas`: the shard's, as the host knows them). */
export async function setDurability(catalog: CatalogStore, shard: string, durability: Durability, replicas: InstanceRef[]): Promise<string[]> {
  if (!(await catalog.shard(shard))) throw new Error(`no shard ${shard} in the catalog`);
  await catalog.setDurability(shard, durability);
  return applyDurability(catalog, shard, replicas);
}
