/**
 * Seeds the bench stack with N users straight into the shard primaries,
 * bypassing the API: 100,000 users through POST /v1/users would take minutes
 * of the benchmark's budget. Rows are routed with the service's own code
 * (strategy → ksid → shard map; email → lookup ksid), so the result is what
 * the API would have written: a `users` row on the owner shard and an
 * `email_lookup` row on the email's shard. Inserted in batches with
 * `unnest` arrays (no extra dependency for COPY); the fence trigger still
 * checks every row. Ends when every replica has replayed the writes.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import type { StackInfo } from '../src/cluster/index.js';
import { ksidToSql } from '../src/routing/keyrange.js';
import { getStrategy } from '../src/routing/registry.js';
import { Router } from '../src/routing/router.js';
import { ShardMap } from '../src/routing/shard-map.js';
import { loadHasher } from '../src/routing/strategies/hash.js';
import type { SeededUser } from './baselines/common.js';

const BATCH = 5000;

interface Rows {
  users: { ksid: string[]; id: string[]; email: string[]; name: string[] };
  emails: { ksid: string[]; email: string[]; userId: string[] };
}

function emptyRows(): Rows {
  return { users: { ksid: [], id: [], email: [], name: [] }, emails: { ksid: [], email: [], userId: [] } };
}

/** The router the apps use, over the map `up` seeded (the bench stack is fresh, so version 1). */
async function routerFor(stack: StackInfo): Promise<Router> {
  const map = ShardMap.fromRecord({
    version: 1,
    keyspace: stack.keyspace,
    strategy: stack.strategy,
    ranges: stack.shards.flatMap((s) => s.ranges.map((range) => ({ range, shard: s.name }))),
  });
  return new Router(await getStrategy(stack.strategy), await loadHasher(), map);
}

/** Inserts `count` users; writes `<dir>/users.json` (id, ksid, shard) for the generator and the baselines. */
export async function seedUsers(stack: StackInfo, count: number, log: (line: string) => void): Promise<{ file: string; users: SeededUser[] }> {
  const started = Date.now();
  const router = await routerFor(stack);
  const perShard = new Map(stack.shards.map((s) => [s.name, emptyRows()]));
  const users: SeededUser[] = [];
  for (let n = 0; n < count; n++) {
    const id = uuidv7();
    const email = `bench-${n}@example.com`;
    const ksid = router.userKsid(id);
    const shard = router.map.entryFor(ksid).shard;
    const emailKsid = router.emailKsid(email);
    const u = (perShard.get(shard) as Rows).users;
    u.ksid.push(ksidToSql(ksid));
    u.id.push(id);
    u.email.push(email);
    u.name.push(`Bench User ${n}`);
    const e = (perShard.get(router.map.entryFor(emailKsid).shard) as Rows).emails;
    e.ksid.push(ksidToSql(emailKsid));
    e.email.push(email);
    e.userId.push(id);
    users.push({ id, ksidSql: ksidToSql(ksid), shard });
  }

  await Promise.all(
    stack.shards.map(async (s) => {
      const rows = perShard.get(s.name) as Rows;
      const client = new pg.Client({ connectionString: s.primary.url });
      await client.connect();
      try {
        for (let i = 0; i < rows.users.id.length; i += BATCH) {
          const sl = (a: string[]) => a.slice(i, i + BATCH);
          await client.query('INSERT INTO users (ksid, id, email, name) SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[])', [
            sl(rows.users.ksid), sl(rows.users.id), sl(rows.users.email), sl(rows.users.name),
          ]);
        }
        for (let i = 0; i < rows.emails.email.length; i += BATCH) {
          const sl = (a: string[]) => a.slice(i, i + BATCH);
          await client.query('INSERT INTO email_lookup (ksid, email, user_id) SELECT * FROM unnest($1::bigint[], $2::text[], $3::uuid[])', [
            sl(rows.emails.ksid), sl(rows.emails.email), sl(rows.emails.userId),
          ]);
        }
        // Fresh statistics and visibility map, as a long-lived table would have.
        await client.query('VACUUM (ANALYZE) users, email_lookup');
      } finally {
        await client.end();
      }
    }),
  );
  await waitReplicasCaughtUp(stack);
  const file = join(stack.dir, 'users.json');
  await writeFile(file, JSON.stringify(users));
  log(`seeded ${count} users directly into ${stack.shards.length} shard primaries in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { file, users };
}

/** Waits until every replica has replayed its primary's current WAL position. */
async function waitReplicasCaughtUp(stack: StackInfo, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const s of stack.shards) {
    const primary = new pg.Client({ connectionString: s.primary.url });
    await primary.connect();
    const lsn = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn;
    await primary.end();
    for (const r of s.replicas) {
      const replica = new pg.Client({ connectionString: r.url });
      await replica.connect();
      try {
        for (;;) {
          const ok = (await replica.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn])).rows[0]?.ok;
          if (ok) break;
          if (Date.now() > deadline) throw new Error(`${r.name} did not replay the seed within ${timeoutMs / 1000} s`);
          await new Promise((res) => setTimeout(res, 100));
        }
      } finally {
        await replica.end();
      }
    }
  }
}
