import pg from 'pg';
import type { Durability, ShardEndpoints, ShardState } from '../db/pools.js';
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

  /** Every shard's endpoints, epoch and state. */
  async shards(): Promise<ShardEndpoints[]> {
    const res = await this.pool.query<{ name: string; primary_url: string; replica_urls: string[]; epoch: string; state: ShardState; durability: Durability }>(
      'SELECT name, primary_url, replica_urls, epoch::text, state, durability FROM shards ORDER BY name',
    );
    return res.rows.map((r) => ({
      name: r.name, primaryUrl: r.primary_url, replicaUrls: r.replica_urls, epoch: Number(r.epoch), state: r.state, durability: r.durability,
    }));
  }

  /** One shard's endpoints, or undefined when the catalog has no such shard. */
  async shard(name: string): Promise<ShardEndpoints | undefined> {
    return (await this.shards()).find((s) => s.name === name);
  }

  /**
   * Registers a shard that the catalog does not know yet. A shard it knows
   * keeps its endpoints: after a failover the catalog, not a seed file, says
   * where the primary is.
   */
  async addShard(ep: { name: string; primaryUrl: string; replicaUrls: string[]; durability?: Durability }): Promise<boolean> {
    const res = await this.pool.query(
      `INSERT INTO shards (name, primary_url, replica_urls, durability) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`,
      [ep.name, ep.primaryUrl, ep.replicaUrls, ep.durability ?? 'sync'],
    );
    return res.rowCount === 1;
  }

  /** Sets a shard's state (apps follow within milliseconds, through NOTIFY). */
  async setShardState(name: string, state: ShardState): Promise<void> {
    await this.pool.query('UPDATE shards SET state = $2 WHERE name = $1', [name, state]);
  }

  /** Sets a shard's durability. */
  async setDurability(name: string, durability: Durability): Promise<void> {
    await this.pool.query('UPDATE shards SET durability = $2 WHERE name = $1', [name, durability]);
  }

  /**
   * Publishes a shard's new primary: endpoints, the next epoch and `serving`,
   * in one statement, only if the epoch is still `epochBefore` (two
   * failovers cannot both win). Returns the new epoch.
   */
  async publishPrimary(name: string, epochBefore: number, primaryUrl: string, replicaUrls: string[]): Promise<number> {
    const res = await this.pool.query<{ epoch: string }>(
      `UPDATE shards SET primary_url = $3, replica_urls = $4, epoch = epoch + 1, state = 'serving'
       WHERE name = $1 AND epoch = $2 RETURNING epoch::text`,
      [name, epochBefore, primaryUrl, replicaUrls],
    );
    const epoch = res.rows[0]?.epoch;
    if (epoch === undefined) throw new Error(`${name}: its epoch is no longer ${epochBefore} (another failover published first)`);
    return Number(epoch);
  }

  /** Replaces a shard's replica list (a replica that rejoined, or one given up). */
  async setReplicas(name: string, replicaUrls: string[]): Promise<void> {
    await this.pool.query('UPDATE shards SET replica_urls = $2 WHERE name = $1', [name, replicaUrls]);
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
