import type { ShardingStrategy } from '../strategy.js';
import { uuidBytes } from '../strategy.js';

/**
 * `range`: ksid = the top 64 bits of the id. For UUIDv7 ids those bits are the
 * creation time in milliseconds followed by the version and 12 random bits,
 * so ksid order is creation order and a range of ksids is a span of time.
 */
export function createRangeStrategy(): ShardingStrategy {
  return {
    name: 'range',
    ksidOf: (userId) => Buffer.from(uuidBytes(userId)).readBigUInt64BE(0),
  };
}
