import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests of pure parts, and integration suites that
// share one real local stack (PostgreSQL, Redis, NGINX, app replicas) started
// once by the global setup.
export default defineConfig({
  test: {
    // The integration suites share one stack and some stop its processes.
    fileParallelism: false,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/setup/stack.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
