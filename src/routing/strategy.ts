/**
 * A sharding strategy turns a shard key (the user id) into a keyspace id.
 * Strategies are plug-ins: each lives in its own file under `strategies/` and
 * registers by name in `registry.ts`.
 */
export interface ShardingStrategy {
  /** The name used in topology seeds and the catalog. */
  readonly name: string;
  /** The keyspace id of a user id (a canonical UUID string). */
  ksidOf(userId: string): bigint;
}

/** Parses a canonical UUID string into its 16 bytes. */
export function uuidBytes(id: string): Uint8Array {
  const hex = id.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a UUID: ${id}`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}
