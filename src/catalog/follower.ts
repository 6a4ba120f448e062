import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { ShardPools } from '../db/pools.js';
import type { Router } from '../routing/router.js';
import { ShardMap } from '../routing/shard-map.js';
import type { CatalogStore } from './store.js';

const CHANNEL = 'tessera_shard_map';

/**
 * Keeps a replica's router and pools on the newest shard map: LISTEN for
 * published versions, poll as a backstop, and reload on demand when a shard's
 * fence says the map is stale. Reports the version in use to the catalog.
 */
export class MapFollower {
  #listener: pg.Client | undefined;
  #poll: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;
  #again: Promise<void> | undefined;
  #closed = false;
  #lastReloadAt = 0;

  constructor(
    private readonly store: CatalogStore,
    private readonly router: Router,
    private readonly pools: ShardPools,
    private readonly opts: { appId: string; pollMs: number; log: FastifyBaseLogger; onChange?: (version: number) => void },
  ) {}

  /** Starts listening and polling. The router must already hold a map. */
  async start(): Promise<void> {
    await this.#listen();
    this.#poll = setInterval(() => void this.reload().catch(() => undefined), this.opts.pollMs);
    this.#poll.unref();
    await this.#heartbeat();
  }

  /**
   * Reloads the newest map and shard endpoints now. Callers while a load runs
   * share one more load after it: the one running may have read the catalog
   * before the change they were told of (a NOTIFY), and would miss it.
   */
  reload(): Promise<void> {
    if (this.#inflight) {
      this.#again ??= this.#inflight.catch(() => undefined).then(() => {
        this.#again = undefined;
        return this.reload();
      });
      return this.#again;
    }
    this.#inflight = this.#load().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** When the last reload finished, in ms since the epoch. */
  get lastReloadAt(): number {
    return this.#lastReloadAt;
  }

  async #load(): Promise<void> {
    const [record, shards] = await Promise.all([this.store.latestMap(), this.store.shards()]);
    this.#lastReloadAt = Date.now();
    this.pools.sync(shards);
    if (record && this.router.useMap(ShardMap.fromRecord(record))) {
      this.opts.log.info({ mapVersion: record.version }, 'routing with new shard map');
      this.opts.onChange?.(record.version);
    }
    await this.#heartbeat();
  }

  async #heartbeat(): Promise<void> {
    await this.store.heartbeat(this.opts.appId, this.router.map.version).catch((err: unknown) => {
      this.opts.log.warn({ err }, 'catalog heartbeat failed');
    });
  }

  async #listen(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: this.store.url, application_name: `tessera-${this.opts.appId}-listen`, keepAlive: true });
    client.on('notification', () => void this.reload().catch((err: unknown) => this.opts.log.warn({ err }, 'shard map reload failed')));
    // A lost listener reconnects after a pause; polling covers the gap.
    client.on('error', (err) => {
      this.opts.log.warn({ err }, 'catalog listener lost; reconnecting');
      this.#listener = undefined;
      void client.end().catch(() => undefined);
      setTimeout(() => void this.#listen().catch(() => undefined), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.#listener = client;
      // A version may have been published while nobody listened.
      await this.reload();
    } catch (err) {
      this.opts.log.warn({ err }, 'catalog listener could not connect; retrying');
      void client.end().catch(() => undefined);
      setTimeout(() => void this.#listen().catch(() => undefined), 1000).unref();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    await this.#listener?.end().catch(() => undefined);
  }
}
