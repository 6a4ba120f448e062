/** Each shard primary waits for the replicas the catalog lists, as the shard's durability says: the local stack's and the compose stack's. */
import { CatalogStore } from '../catalog/store.js';
import { applyDurability } from '../failover/durability.js';
import { composeFailoverHost } from './compose-failover-host.js';
import { slotName } from './layout.js';
import type { StackInfo } from './stack-file.js';

/** Applies every shard's catalog durability to its primary (idempotent; run after every start). */
export async function applyStackDurability(info: StackInfo): Promise<void> {
  const catalog = new CatalogStore(info.catalog.url, { applicationName: 'tessera-up' });
  try {
    for (const s of info.shards) {
      await applyDurability(catalog, s.name, s.replicas.map((r) => ({ name: r.name, url: r.url, slot: r.slot ?? slotName(r.name) })));
    }
  } finally {
    await catalog.close();
  }
}

/**
 * The same for the compose stack, from its catalog alone (its `migrate`
 * service runs this on every `up`): each replica streams under its service
 * name (src/cluster/compose-failover-host.ts). Returns the standbys each
 * shard's primary now waits for.
 */
export async function applyComposeDurability(catalogUrl: string): Promise<Map<string, string[]>> {
  const catalog = new CatalogStore(catalogUrl, { applicationName: 'tessera-migrate' });
  try {
    const host = await composeFailoverHost(catalog);
    const out = new Map<string, string[]>();
    for (const s of await catalog.shards()) out.set(s.name, await applyDurability(catalog, s.name, host.instances(s.name)?.replicas ?? []));
    return out;
  } finally {
    await catalog.close();
  }
}
