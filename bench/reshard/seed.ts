/**
 * Seeds N users, one document each and their email-lookup rows straight into
 * the shard primaries with COPY: through the API 200,000 users would take
 * many minutes. Rows are routed with the service's own code (strategy → ksid
 * → the catalog's current shard map; email → lookup ksid), so every row sits
 * where the API would have put it and passes the fence trigger.
 */
import { v7 as uuidv7 } from 'uuid';
import { CatalogStore } from '../../src/catalog/store.js';
import type { StackInfo } from '../../src/cluster/index.js';
import { ksidToSql } from '../../src/routing/keyrange.js';
import { getStrategy } from '../../src/routing/registry.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { emailKsid, loadHasher } from '../../src/routing/strategies/hash.js';
import { copyRowsIn, withClient } from './pg-copy.js';

/** A seeded user: enough to aim the load at the moving range. */
export interface SeededUser {
  id: string;
  ksid: bigint;
}

export interface SeedResult {
  users: SeededUser[];
  rows: { users: number; documents: number; email_lookup: number };
  seconds: number;
}

interface ShardRows {
  users: string[][];
  documents: string[][];
  emails: string[][];
}

// About the size of a small settings document; the same for every user so
// the byte rates do not depend on the random draw.
const DOC_TEXT = 'x'.repeat(200);

async function currentMap(catalogUrl: string): Promise<ShardMap> {
  const store = new CatalogStore(catalogUrl, { applicationName: 'tessera-bench-reshard' });
  try {
    const rec = await store.latestMap();
    if (!rec) throw new Error('the catalog has no shard map');
    return ShardMap.fromRecord(rec);
  } finally {
    await store.close();
  }
}

export async function seed(stack: StackInfo, count: number): Promise<SeedResult> {
  const started = performance.now();
  const map = await currentMap(stack.catalog.url);
  const strategy = await getStrategy(map.strategy);
  const hash = await loadHasher();
  const perShard = new Map(stack.shards.map((s) => [s.name, { users: [], documents: [], emails: [] } as ShardRows]));
  const rowsOf = (ksid: bigint) => perShard.get(map.entryFor(ksid).shard) as ShardRows;
  const users: SeededUser[] = [];
  for (let n = 0; n < count; n++) {
    const id = uuidv7();
    const email = `rb-${n}@example.com`;
    const ksid = strategy.ksidOf(id);
    const k = ksidToSql(ksid);
    const home = rowsOf(ksid);
    home.users.push([k, id, email, `Bench User ${n}`, `{"plan":"free","n":${n}}`]);
    home.documents.push([k, id, 'settings', `{"n":${n},"text":"${DOC_TEXT}"}`]);
    const ek = emailKsid(hash, email);
    rowsOf(ek).emails.push([ksidToSql(ek), email, id]);
    users.push({ id, ksid });
  }
  await Promise.all(
    stack.shards.map((s) =>
      withClient(s.primary.url, 'tessera-bench-reshard-seed', async (c) => {
        const r = perShard.get(s.name) as ShardRows;
        await copyRowsIn(c, 'users', ['ksid', 'id', 'email', 'name', 'profile'], r.users);
        await copyRowsIn(c, 'documents', ['ksid', 'user_id', 'key', 'value'], r.documents);
        await copyRowsIn(c, 'email_lookup', ['ksid', 'email', 'user_id'], r.emails);
        // Statistics and visibility map of a settled table, not of a fresh bulk load.
        await c.query('VACUUM (ANALYZE) users, documents, email_lookup');
      }),
    ),
  );
  return { users, rows: { users: count, documents: count, email_lookup: count }, seconds: (performance.now() - started) / 1000 };
}
