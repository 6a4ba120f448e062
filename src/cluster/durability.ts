/** Each shard primary of a local stack waits for the replicas the catalog lists, as the shard's durability says. */
import { CatalogStore } from '../catalog/store.js';
import { applyDurability } from '../failover/durability.js';
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
