import { readFileSync } from 'node:fs';

/** A sharding strategy name, as registered in `routing/strategies`. */
export type StrategyName = 'hash' | 'range';

/** One shard of a topology seed: where it lives and the ksid ranges it starts with. */
export interface ShardSeed {
  /** Stable shard name, e.g. `shard-a`. */
  name: string;
  /** Connection string of the shard's primary. */
  primary: string;
  /** Connection strings of its streaming read replicas. */
  replicas: string[];
  /** Vitess-style key ranges the shard owns at seed time, e.g. `["-80"]`, `["80-"]`. */
  ranges: string[];
  /** `sync` (commits wait for a replica; the default) or `async`. */
  durability?: 'sync' | 'async';
}

/**
 * A topology seed (one file per environment under `shards/`). It only seeds the
 * catalog: once the catalog holds a shard map, the catalog is authoritative.
 */
export interface TopologySeed {
  keyspace: string;
  strategy: StrategyName;
  shards: ShardSeed[];
}

/**
 * Reads a topology seed file, replacing `${VAR}` and `${VAR:-default}` with
 * values from `env` so that one file serves several hosts (compose, local).
 */
export function loadTopologyFile(path: string, env: NodeJS.ProcessEnv = process.env): TopologySeed {
  const raw = readFileSync(path, 'utf8').replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_m, name: string, dflt?: string) => {
    const value = env[name] ?? dflt;
    if (value === undefined) throw new Error(`${path}: environment variable ${name} is not set`);
    return value;
  });
  return JSON.parse(raw) as TopologySeed;
}
