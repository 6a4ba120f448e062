/**
 * The compose stack `npm run bench:compose` measures: its own project
 * (`tesserabench`, secrets in .tessera-bench-compose/, NGINX on 127.0.0.1:18980),
 * or one already running that the caller names (the Docker test suite's).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/cluster/index.js';

/** How to reach a compose project. */
export interface ComposeTarget {
  composeCmd: string[];
  project: string;
  envFile: string;
  secretsDir: string;
  /** Host port of the stack's NGINX (127.0.0.1). */
  port: number;
}

export function sh(cmd: string, args: string[], timeoutMs = 600_000): string {
  const r = spawnSync(cmd, args, { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${(r.stderr ?? '').slice(-3000)}${r.error ? String(r.error) : ''}`);
  return r.stdout;
}

export function compose(t: ComposeTarget, args: string[], timeoutMs?: number): string {
  const [cmd, ...pre] = t.composeCmd;
  return sh(cmd!, [...pre, '-p', t.project, '--env-file', t.envFile, '-f', join(PROJECT_ROOT, 'docker-compose.yml'), ...args], timeoutMs);
}

/** Container ids of a service. */
export function containersOf(t: ComposeTarget, service: string): string[] {
  return sh('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${t.project}`, '--filter', `label=com.docker.compose.service=${service}`])
    .split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Every running container of the project. */
export function projectContainers(t: ComposeTarget): string[] {
  return sh('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${t.project}`]).split('\n').map((l) => l.trim()).filter(Boolean);
}

/** The host pid of a container's first process (its processes are that pid's tree). */
export function containerPid(id: string): number {
  return Number(sh('docker', ['inspect', '--format', '{{.State.Pid}}', id]).trim());
}

export function addressOn(t: ComposeTarget, id: string, network: 'edge' | 'backend'): string {
  return sh('docker', ['inspect', '--format', `{{(index .NetworkSettings.Networks "${t.project}_${network}").IPAddress}}`, id]).trim();
}

async function waitUntil(what: string, timeoutMs: number, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits until every running container of the project is healthy. */
export async function waitHealthy(t: ComposeTarget, apps: number): Promise<void> {
  await waitUntil(`${apps} healthy apps and every container healthy`, 300_000, () => {
    const ids = projectContainers(t);
    if (containersOf(t, 'app').length !== apps || containersOf(t, 'nginx').length !== 1) return false;
    const states = sh('docker', ['inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', ...ids]).trim().split('\n');
    return states.every((s) => s === 'healthy');
  });
}

export const OWN_DIR = join(PROJECT_ROOT, '.tessera-bench-compose');
export const OWN_PROJECT = 'tesserabench';
export const OWN_PORT = 18980;

/** Makes secrets for the bench's own project and starts it (`up -d --build --scale app=N`). */
export async function startOwnStack(composeCmd: string[], apps: number, log: (l: string) => void): Promise<ComposeTarget> {
  mkdirSync(OWN_DIR, { recursive: true });
  const t: ComposeTarget = { composeCmd, project: OWN_PROJECT, envFile: join(OWN_DIR, 'stack.env'), secretsDir: join(OWN_DIR, 'secrets'), port: OWN_PORT };
  if (!existsSync(t.envFile)) {
    sh('bash', [join(PROJECT_ROOT, 'scripts', 'docker-init.sh'), '--env-file', t.envFile, '--secrets-dir', t.secretsDir]);
    sh('bash', ['-c', `printf 'TESSERA_HTTP_PORT=%s\\nTESSERA_LOG_LEVEL=warn\\nTESSERA_RATE_LIMIT=0\\n' ${OWN_PORT} >> "${t.envFile}"`]);
  }
  log(`building the images and starting ${OWN_PROJECT} with ${apps} apps (NGINX on 127.0.0.1:${OWN_PORT})`);
  compose(t, ['up', '-d', '--build', '--scale', `app=${apps}`], 900_000);
  await waitHealthy(t, apps);
  return t;
}

export function stopOwnStack(t: ComposeTarget): void {
  compose(t, ['down', '-v', '--timeout', '10'], 300_000);
  rmSync(OWN_DIR, { recursive: true, force: true });
}
