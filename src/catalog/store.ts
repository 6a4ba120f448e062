import pg from 'pg';
import type { ShardEndpoints } from '../db/pools.js';
import type { ShardMapRecord } from '../routing/shard-map.js';

/** Reads and writes the catalog database: shard endpoints and shard map versions. */
export class CatalogStore {
  readonly pool: pg.Pool;

  constructor(readonly url: string, opts: { applicationName?: string; timeoutMs?: number } = {}) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: 3,
      connectionTimeoutMillis: opts.timeoutMs ?? 5000,
      statement_timeout: opts.timeoutMs ?? 5000,
      application_name: opts.applicationName ?? 'tessera',
    });
    // Losing an idle catalog connection is not fatal: the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  /** The newest shard map, or undefined if the catalog was never seeded. */
  async latestMap(): Promise<ShardMapRecord | undefined> {
    const res = await this.pool.query<{ version: string; keyspace: string; strategy: string; ranges: ShardMapRecord['ranges'] }>(
      'SELECT version::text, keyspace, strategy, ranges FROM shard_maps ORDER BY version DESC LIMIT 1',
    );
    const row = res.rows[0];
    return row && { version: Number(row.version), keyspace: row.keyspace, strategy: row.strategy, ranges: row.ranges };
  }

  /** Every shard's endpoints. */
  async shards(): Promise<ShardEndpoints[]> {
    const res = await this.pool.query<{ name: string; primary_url: string; replica_urls: string[] }>(
      'SELECT name, primary_url, replica_urls FROM shards ORDER BY name',
    );
    return res.rows.map((r) => ({ name: r.name, primaryUrl: r.primary_url, replicaUrls: r.replica_urls }));
  }

  /** Inserts or updates a shard's endpoints. */
  async upsertShard(ep: ShardEndpoints): Promise<void> {
    await this.pool.query(
      `INSERT INTO shards (name, primary_url, replica_urls) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET primary_url = EXCLUDED.primary_url, replica_urls = EXCLUDED.replica_urls`,
      [ep.name, ep.primaryUrl, ep.replicaUrls],
    );
  }

  /**
   * Publishes a new map version. Fails if `expectedVersion` is no longer the
   * newest (someone else published first), so two publishers cannot both win.
   */
  async publishMap(next: Omit<ShardMapRecord, 'version'>, expectedVersion: number, reason: string): Promise<number> {
    const version = expectedVersion + 1;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Serialises publishers; the unique version key catches the rest.
      await client.query('LOCK TABLE shard_maps IN SHARE ROW EXCLUSIVE MODE');
      const cur = await client.query<{ v: string | null }>('SELECT max(version)::text AS v FROM shard_maps');
      const current = cur.rows[0]?.v == null ? 0 : Number(cur.rows[0].v);
      if (current !== expectedVersion) throw new Error(`shard map moved on: expected v${expectedVersion}, found v${current}`);
      await client.query('INSERT INTO shard_maps (version, keyspace, strategy, ranges, reason) VALUES ($1, $2, $3, $4, $5)', [
        version,
        next.keyspace,
        next.strategy,
        JSON.stringify(next.ranges),
        reason,
      ]);
      await client.query('COMMIT');
      return version;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Records that an app replica routes with `mapVersion` now. */
  async heartbeat(appId: string, mapVersion: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO app_replicas (app_id, map_version, heartbeat_at) VALUES ($1, $2, now())
       ON CONFLICT (app_id) DO UPDATE SET map_version = EXCLUDED.map_version, heartbeat_at = now()`,
      [appId, mapVersion],
    );
  }

  /** App replicas seen within `withinMs`, with the map version each reported. */
  async liveReplicas(withinMs: number): Promise<{ appId: string; mapVersion: number }[]> {
    const res = await this.pool.query<{ app_id: string; map_version: string }>(
      `SELECT app_id, map_version::text FROM app_replicas WHERE heartbeat_at > now() - make_interval(secs => $1::float8 / 1000)`,
      [withinMs],
    );
    return res.rows.map((r) => ({ appId: r.app_id, mapVersion: Number(r.map_version) }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
