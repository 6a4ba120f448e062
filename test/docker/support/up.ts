/**
 * `docker compose up -d [--build] --scale app=N` of the suite's project
 * through testcontainers' compose support, waiting on every container's
 * healthcheck. Used by the global setup and by the suite that takes the
 * stack down and brings it back.
 */
import type { ComposeContext } from './compose.js';

process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE = 'localhost';

export async function composeUp(ctx: ComposeContext, opts: { build: boolean }): Promise<void> {
  const { DockerComposeEnvironment, Wait } = await import('testcontainers');
  let env = new DockerComposeEnvironment(ctx.root, 'docker-compose.yml')
    .withProjectName(ctx.project)
    .withEnvironmentFile(ctx.envFile)
    .withClientOptions({
      // Debian's docker-compose 1.29 is a program of its own, not a docker plugin.
      ...(ctx.composeCmd.length === 1 && { executable: { standalone: true, executablePath: ctx.composeCmd[0] } }),
      commandOptions: ['--scale', `app=${ctx.apps}`],
    })
    .withDefaultWaitStrategy(Wait.forHealthCheck())
    .withStartupTimeout(240_000);
  if (opts.build) env = env.withBuild();
  await env.up();
}
