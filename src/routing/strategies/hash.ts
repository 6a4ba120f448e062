import xxhash from 'xxhash-wasm';
import type { ShardingStrategy } from '../strategy.js';
import { uuidBytes } from '../strategy.js';

/**
 * xxHash64 (seed 0) over raw bytes. xxhash-wasm is small, typed, dependency
 * free and returns the full 64 bits as a bigint; it needs one async
 * instantiation, done once by {@link loadHasher}.
 */
export type Hash64 = (bytes: Uint8Array) => bigint;

let hasher: Hash64 | undefined;

/** Instantiates the WebAssembly hasher once per process. */
export async function loadHasher(): Promise<Hash64> {
  if (!hasher) {
    const { h64Raw } = await xxhash();
    hasher = (bytes) => h64Raw(bytes, 0n);
  }
  return hasher;
}

/** `hash`: ksid = xxHash64 of the id's 16 bytes; spreads keys evenly. */
export function createHashStrategy(hash: Hash64): ShardingStrategy {
  return { name: 'hash', ksidOf: (userId) => hash(uuidBytes(userId)) };
}

/** The keyspace id of an email in the lookup table: xxHash64 of its lower-cased UTF-8 bytes. */
export function emailKsid(hash: Hash64, email: string): bigint {
  return hash(Buffer.from(normalizeEmail(email), 'utf8'));
}

/** The form in which emails are compared and claimed. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
