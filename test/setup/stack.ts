import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { down, up } from '../../src/cluster/index.js';

/**
 * Starts one real local stack for every integration suite (2 hash shards with
 * a streaming replica each, Redis, NGINX, 2 app replicas) on ports of its own,
 * so it can run beside a developer's `npm run up`. Reused if already up
 * (TESSERA_TEST_KEEP=1 keeps it after the run for a fast edit-test loop).
 */
// TESSERA_TEST_PORT_OFFSET moves the shared stack, for two checkouts testing on one machine.
const offset = Number(process.env.TESSERA_TEST_PORT_OFFSET ?? 0);
export const TEST_STACK = {
  dir: resolve('.tessera-test/main'),
  shards: 2,
  replicas: 1,
  apps: 2,
  strategy: 'hash' as const,
  port: 18080 + offset,
  pgBasePort: 25420 + offset,
  redisPort: 16390 + offset,
  appBasePort: 13001 + offset,
};

async function start() {
  return up({
    ...TEST_STACK,
    log: (line: string) => console.error(`[stack] ${line}`),
    // Every suite calls from one address, mostly with one service token, and some send refused tokens on
    // purpose: the limits are far above what they send, so that no suite meets one by accident (the
    // rate-limit suites start apps and NGINX with limits of their own).
    anonRate: '100000r/s',
    anonBurst: 100000,
    // A short poll keeps the map-follow tests quick; lag probes as configured by default.
    appEnv: {
      TESSERA_LOG_LEVEL: 'warn', TESSERA_MAP_POLL_MS: '1000', TESSERA_DRAIN_MS: '3000', TESSERA_DEBUG_ENDPOINTS: 'true',
      TESSERA_RATE_LIMIT: '1000000', TESSERA_RATE_LIMIT_ANONYMOUS: '1000000',
    },
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  let result: Awaited<ReturnType<typeof start>> | undefined;
  // Another run on this machine may be tearing its stack down on these ports: wait for it.
  for (let attempt = 1; !result; attempt++) {
    try {
      result = await start();
    } catch (err) {
      if (attempt >= 12 || !/already in use/.test(String(err))) throw err;
      console.error('[stack] ports busy; retrying in 5 s');
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
  console.error(`[stack] test stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s${result.alreadyRunning ? ' (reused)' : ''}`);
  project.provide('stackDir', TEST_STACK.dir);
  const reused = result.alreadyRunning;
  return async () => {
    // A stack this run did not start belongs to whoever started it.
    if (process.env.TESSERA_TEST_KEEP === '1' || reused) return;
    await down({ dir: TEST_STACK.dir, purge: true, log: (line: string) => console.error(`[stack] ${line}`) });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    stackDir: string;
  }
}
