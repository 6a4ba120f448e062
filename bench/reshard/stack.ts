/**
 * The benchmark's own stack: 2 hash shards without replicas and 1 app behind
 * NGINX, started fresh (a leftover from a crashed run is purged first, so no
 * old rows or workflows skew the numbers), plus the empty shard-c to split into.
 */
import { resolve } from 'node:path';
import { down, tryReadStack, up, type StackInfo } from '../../src/cluster/index.js';
import { addShard } from '../../src/cluster/shard-add.js';
import type { BenchStackConfig } from './options.js';

type Log = (line: string) => void;

export async function startStack(cfg: BenchStackConfig, log: Log): Promise<StackInfo> {
  const dir = resolve(cfg.dir);
  if (tryReadStack(dir)) {
    log(`purging a leftover stack in ${cfg.dir}`);
    await down({ dir, purge: true, log: () => undefined });
  }
  const { stack } = await up({
    dir, shards: 2, replicas: 0, apps: 1, strategy: 'hash',
    port: cfg.port, pgBasePort: cfg.pgBasePort, redisPort: cfg.redisPort, appBasePort: cfg.appBasePort,
    // A 1 s map poll as in the reshard tests; warn logs keep the app's own cost low.
    // One token for the whole load: far from its per-caller limit on purpose.
    appEnv: { TESSERA_LOG_LEVEL: 'warn', TESSERA_MAP_POLL_MS: '1000', TESSERA_RATE_LIMIT: '1000000' },
    log: (line) => log(`up: ${line}`),
  });
  return stack;
}

/** `tessera shard add`: an empty shard-c that owns no range yet. */
export async function addEmptyShard(cfg: BenchStackConfig, log: Log): Promise<string> {
  const shard = await addShard({ dir: resolve(cfg.dir), replicas: 0, log: (line) => log(`shard add: ${line}`) });
  return shard.name;
}

/** Stops and deletes the stack; never throws (it runs in `finally`). */
export async function stopStack(cfg: BenchStackConfig, log: Log): Promise<void> {
  try {
    await down({ dir: resolve(cfg.dir), purge: true, log: () => undefined });
    log(`stack in ${cfg.dir} stopped and purged`);
  } catch (err) {
    log(`WARNING: tearing down ${cfg.dir} failed: ${(err as Error).message} (run \`npm run down -- --dir ${cfg.dir} --purge\`)`);
  }
}
