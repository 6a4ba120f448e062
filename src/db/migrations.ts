import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

/** The folders of SQL migrations, by target. */
export const MIGRATION_DIRS = {
  shard: fileURLToPath(new URL('../../shards/migrations/shard/', import.meta.url)),
  catalog: fileURLToPath(new URL('../../shards/migrations/catalog/', import.meta.url)),
} as const;

// Any constant works; it only serialises concurrent migrators of one database.
const MIGRATION_LOCK = 7_420_001;

/**
 * Applies every `*.sql` file of `dir` not yet recorded in `tessera_migrations`,
 * in name order, each in its own transaction, under an advisory lock so that
 * replicas starting together cannot apply one file twice. Returns the names applied.
 */
export async function applyMigrations(client: pg.Client | pg.PoolClient, dir: string): Promise<string[]> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS tessera_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM tessera_migrations')).rows.map((r) => r.name));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = readFileSync(`${dir}/${file}`, 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO tessera_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
