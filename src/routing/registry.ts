import type { ShardingStrategy } from './strategy.js';
import { createHashStrategy, loadHasher } from './strategies/hash.js';
import { createRangeStrategy } from './strategies/range.js';

/** Makes a strategy; async because some need one-time setup (WebAssembly). */
type StrategyFactory = () => Promise<ShardingStrategy>;

const factories = new Map<string, StrategyFactory>([
  ['hash', async () => createHashStrategy(await loadHasher())],
  ['range', async () => createRangeStrategy()],
]);

/** Names of every registered strategy. */
export function strategyNames(): string[] {
  return [...factories.keys()];
}

/** Returns the strategy registered under `name`. */
export async function getStrategy(name: string): Promise<ShardingStrategy> {
  const factory = factories.get(name);
  if (!factory) throw new RangeError(`unknown sharding strategy "${name}" (known: ${strategyNames().join(', ')})`);
  return factory();
}
