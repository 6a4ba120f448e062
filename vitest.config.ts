import { defineConfig } from 'vitest/config';

// Three projects: fast unit tests of pure parts; integration suites that
// share one real local stack (PostgreSQL, Redis, NGINX, app replicas) started
// once by their global setup; and the Docker suite, which builds the images
// and runs the compose stack (and a Swarm) on a real engine.
// TESSERA_SKIP_DOCKER=1 leaves the Docker suite out (a developer's choice;
// .ci/run clears it, CI never skips it).
const docker = process.env.TESSERA_SKIP_DOCKER === '1'
  ? []
  : [{
      test: {
        name: 'docker',
        include: ['test/docker/**/*.test.ts'],
        environment: 'node',
        globalSetup: ['test/setup/docker.ts'],
        testTimeout: 180_000,
        hookTimeout: 900_000,
      },
    }];

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
      ...docker,
    ],
  },
});
