/**
 * The Docker suite's stack: the compose stack of docker-compose.yml, built
 * from this repository's Dockerfiles and started with `--scale app=3` through
 * testcontainers' compose support (its wait strategy: every container's
 * healthcheck), on a project, env file and NGINX port of its own. Torn down
 * with its volumes at the end.
 *
 * Needs a Docker engine and the base image; `npm test` makes sure of both
 * (scripts/docker-engine.sh). testcontainers' reaper image cannot be pulled
 * where no registry is reachable, so it is off: the teardown cleans up.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { DOCKER_AUTH } from '../docker/support/auth.js';
import type { ComposeContext } from '../docker/support/compose.js';
import { swarmMarker } from '../docker/support/swarm-marker.js';
import { composeUp } from '../docker/support/up.js';

const ROOT = resolve('.');
const offset = Number(process.env.TESSERA_TEST_PORT_OFFSET ?? 0);
const APPS = 3;

function run(cmd: string, args: string[], timeoutMs = 120_000): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** `docker compose` (v2) when it answers, else Debian's `docker-compose` (1.29). */
function composeCommand(): string[] {
  if (run('docker', ['compose', 'version'], 15_000).status === 0) return ['docker', 'compose'];
  if (run('docker-compose', ['version'], 15_000).status === 0) return ['docker-compose'];
  throw new Error('no compose tool: `npm test` installs docker-compose (scripts/docker-engine.sh)');
}

/**
 * Leaves the Swarm the Swarm suite made, and removes the gateway bridge it
 * made for it (test/docker/swarm.test.ts says why only now).
 */
function leaveOwnSwarm(marker: string): void {
  if (!existsSync(marker)) return;
  const made = JSON.parse(readFileSync(marker, 'utf8')) as { ownSwarm: boolean; ownGateway: boolean };
  if (made.ownSwarm) {
    const left = run('docker', ['swarm', 'leave', '--force'], 60_000);
    if (left.status !== 0) log(`swarm leave failed:\n${left.out}`);
  }
  if (made.ownGateway) {
    // Its last endpoint goes with the Swarm, a moment after.
    for (let attempt = 0; attempt < 30; attempt++) {
      if (run('docker', ['network', 'rm', 'docker_gwbridge'], 30_000).status === 0) return;
      spawnSync('sleep', ['1']);
    }
    log('docker_gwbridge could not be removed');
  }
}

function log(line: string): void {
  console.error(`[docker] ${line}`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const engine = run('docker', ['info', '--format', '{{.ServerVersion}}'], 30_000);
  if (engine.status !== 0) throw new Error(`no Docker engine answers (run \`npm test\`, which starts one, or scripts/docker-engine.sh as root):\n${engine.out}`);

  const scratch = mkdtempSync(join(tmpdir(), 'tessera-docker-'));
  const envFile = join(scratch, 'stack.env');
  const secretsDir = join(scratch, 'secrets');
  const init = run('bash', [join(ROOT, 'scripts', 'docker-init.sh'), '--env-file', envFile, '--secrets-dir', secretsDir]);
  if (init.status !== 0) throw new Error(`scripts/docker-init.sh failed:\n${init.out}`);
  const httpPort = 28080 + offset;
  appendFileSync(envFile, [
    `TESSERA_HTTP_PORT=${httpPort}`,
    `TESSERA_AUTH=${DOCKER_AUTH}`,
    'TESSERA_LOG_LEVEL=warn',
    // The suite's loads share one token; they test failures and scaling, not
    // the per-caller limit (test/integration/rate-limits.test.ts does).
    'TESSERA_RATE_LIMIT=100000',
    '',
  ].join('\n'));

  const ctx: ComposeContext = {
    root: ROOT,
    project: `tesseratest${offset}`,
    envFile,
    secretsDir,
    composeCmd: composeCommand(),
    baseUrl: `http://127.0.0.1:${httpPort}`,
    apps: APPS,
  };
  const composeArgs = ['-p', ctx.project, '--env-file', envFile, '-f', join(ROOT, 'docker-compose.yml')];
  const [cmd, ...pre] = ctx.composeCmd;
  const teardown = async (): Promise<void> => {
    if (process.env.TESSERA_TEST_KEEP === '1') {
      log(`kept: ${ctx.composeCmd.join(' ')} ${composeArgs.join(' ')} down -v`);
      return;
    }
    const down = run(cmd!, [...pre, ...composeArgs, '--profile', 'cli', 'down', '-v', '--remove-orphans', '--timeout', '20'], 180_000);
    if (down.status !== 0) log(`down failed:\n${down.out}`);
    leaveOwnSwarm(swarmMarker(envFile));
    rmSync(scratch, { recursive: true, force: true });
  };

  // A stack left by an interrupted run of this checkout would hold the port and the names.
  run(cmd!, [...pre, ...composeArgs, '--profile', 'cli', 'down', '-v', '--remove-orphans', '--timeout', '5'], 180_000);

  const started = Date.now();
  log(`building the images and starting ${ctx.project} (${ctx.composeCmd.join(' ')}, --scale app=${APPS}, NGINX on ${ctx.baseUrl})`);
  try {
    await composeUp(ctx, { build: true });
  } catch (err) {
    const logs = run(cmd!, [...pre, ...composeArgs, 'logs', '--no-color', '--tail', '40'], 60_000);
    log(`the stack did not come up; last log lines:\n${logs.out}`);
    await teardown();
    throw err;
  }
  log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (images built and every container healthy)`);
  project.provide('compose', ctx);
  return teardown;
}
