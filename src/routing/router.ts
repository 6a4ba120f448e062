import type { ShardingStrategy } from './strategy.js';
import type { ShardMap } from './shard-map.js';
import type { Hash64 } from './strategies/hash.js';
import { emailKsid } from './strategies/hash.js';

/** Where a query goes. Routing never throws for "no shard"; it says so. */
export type Destination =
  | { kind: 'shard'; shard: string; ksid: bigint; mapVersion: number }
  | { kind: 'all'; shards: string[]; mapVersion: number }
  | { kind: 'none'; reason: string };

/**
 * Pure routing: shard key → keyspace id → shard, against one map version.
 * Holds no connections and does no I/O; callers swap in a newer map.
 */
export class Router {
  #map: ShardMap;

  constructor(
    readonly strategy: ShardingStrategy,
    private readonly hash: Hash64,
    map: ShardMap,
  ) {
    this.#map = map;
  }

  /** The map in use. */
  get map(): ShardMap {
    return this.#map;
  }

  /** Replaces the map unless `next` is older than the current one. Returns whether it changed. */
  useMap(next: ShardMap): boolean {
    if (next.version <= this.#map.version) return false;
    this.#map = next;
    return true;
  }

  /** The keyspace id of a user id under the map's strategy. */
  userKsid(userId: string): bigint {
    return this.strategy.ksidOf(userId);
  }

  /** The keyspace id of an email's lookup row (always hashed, whatever the strategy). */
  emailKsid(email: string): bigint {
    return emailKsid(this.hash, email);
  }

  /** Routes a keyspace id to its shard. */
  routeKsid(ksid: bigint): Destination {
    const entry = this.#map.entryFor(ksid);
    return { kind: 'shard', shard: entry.shard, ksid, mapVersion: this.#map.version };
  }

  /** Routes a user id (its row and its documents). */
  routeUser(userId: string): Destination {
    return this.routeKsid(this.userKsid(userId));
  }

  /** Routes an email's lookup row. */
  routeEmail(email: string): Destination {
    return this.routeKsid(this.emailKsid(email));
  }

  /** Every shard, for scatter-gather. */
  routeAll(): Destination {
    const shards = this.#map.shards();
    return shards.length > 0 ? { kind: 'all', shards, mapVersion: this.#map.version } : { kind: 'none', reason: 'empty shard map' };
  }
}
