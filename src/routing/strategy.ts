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

// Hex digit values by char code (-1: not a hex digit).
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/**
 * Parses a canonical UUID string (8-4-4-4-12 hex digits) into its 16 bytes.
 * Every read hashes its id, so this is a loop over the characters rather than
 * a regex, a hex decode and a copy.
 */
export function uuidBytes(id: string): Uint8Array {
  if (id.length !== 36) throw new TypeError(`not a UUID: ${id}`);
  const out = new Uint8Array(16);
  let j = 0;
  for (let i = 0; i < 36; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (id.charCodeAt(i) !== 45) throw new TypeError(`not a UUID: ${id}`);
      i++;
      continue;
    }
    const a = id.charCodeAt(i);
    const b = id.charCodeAt(i + 1);
    const hi = a < 128 ? HEX[a]! : -1;
    const lo = b < 128 ? HEX[b]! : -1;
    if (hi < 0 || lo < 0) throw new TypeError(`not a UUID: ${id}`);
    out[j++] = (hi << 4) | lo;
    i += 2;
  }
  return out;
}
