/**
 * The compose stack the Docker suite's global setup started
 * (test/setup/docker.ts), and the few things the suites do to it: run the
 * compose tool and docker with the stack's project and env file, find a
 * service's containers, and wait for a condition (always bounded).
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { inject } from 'vitest';

/** What the global setup provides. */
export interface ComposeContext {
  /** Repository root (the compose file's folder). */
  root: string;
  /** Compose project name: containers, networks and volumes carry it. */
  project: string;
  /** The env file with the stack's secrets and settings (scripts/docker-init.sh's, plus the suite's). */
  envFile: string;
  /** Where scripts/docker-init.sh wrote the JWT keys and password files. */
  secretsDir: string;
  /** `docker compose` or `docker-compose`. */
  composeCmd: string[];
  /** NGINX, as published on 127.0.0.1. */
  baseUrl: string;
  /** App replicas the stack was started with. */
  apps: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    compose: ComposeContext;
  }
}

export function composeContext(): ComposeContext {
  return inject('compose');
}

/** Runs a command; throws with its output unless it exits 0. */
export function sh(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 300_000, input: opts.input, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${(r.stderr ?? '').slice(-4000)}${(r.stdout ?? '').slice(-2000)}${r.error ? String(r.error) : ''}`);
  }
  return r.stdout;
}

/** The compose tool's arguments that select this stack. */
export function composeArgs(ctx: ComposeContext = composeContext()): string[] {
  return ['-p', ctx.project, '--env-file', ctx.envFile, '-f', join(ctx.root, 'docker-compose.yml')];
}

/** `<compose> -p … --env-file … -f … <args>`; its stdout. */
export function compose(args: string[], opts: { timeoutMs?: number } = {}): string {
  const ctx = composeContext();
  const [cmd, ...pre] = ctx.composeCmd;
  return sh(cmd!, [...pre, ...composeArgs(ctx), ...args], opts);
}

export function docker(args: string[], opts: { timeoutMs?: number } = {}): string {
  return sh('docker', args, opts);
}

/** Ids of a service's containers (running or not), from compose's labels. */
export function containersOf(service: string, opts: { all?: boolean } = {}): string[] {
  const { project } = composeContext();
  return docker(['ps', ...(opts.all ? ['-a'] : []), '-q', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`])
    .split('\n').map((l) => l.trim()).filter(Boolean);
}

/** The container's hostname: what an app replica reports in X-Tessera-App. */
export function hostnameOf(id: string): string {
  return docker(['inspect', '--format', '{{.Config.Hostname}}', id]).trim();
}

/** The container's address on one of the stack's networks (`edge`, `backend`). */
export function addressOn(id: string, network: 'edge' | 'backend'): string {
  const { project } = composeContext();
  return docker(['inspect', '--format', `{{(index .NetworkSettings.Networks "${project}_${network}").IPAddress}}`, id]).trim();
}

/** `running healthy`, `running starting`, `exited ` … */
export function stateOf(id: string): string {
  return docker(['inspect', '--format', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', id]).trim();
}

/**
 * Polls `probe` until it returns something other than undefined; throws
 * naming `what` after `timeoutMs`. The only way the Docker suite waits.
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, stepMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs / 1000} s: ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Waits until `service` has exactly `count` containers, all running and healthy; their ids. */
export async function waitHealthy(service: string, count: number, timeoutMs = 120_000): Promise<string[]> {
  return waitFor(`${count} healthy ${service} container(s)`, timeoutMs, () => {
    const ids = containersOf(service);
    return ids.length === count && ids.every((id) => stateOf(id) === 'running healthy') ? ids : undefined;
  }, 500);
}

/** `tessera …` in a one-off container of the `cli` service (`docker compose run --rm cli …`); its stdout. */
export function cli(args: string[], opts: { timeoutMs?: number } = {}): string {
  return compose(['--profile', 'cli', 'run', '--rm', '-T', 'cli', ...args], opts);
}

/** What a command printed, and how it exited. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `tessera …` in a one-off `cli` container, without blocking the event loop
 * (a load in this process keeps running meanwhile), whatever its exit code.
 */
export function cliRun(args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  const ctx = composeContext();
  const [cmd, ...pre] = ctx.composeCmd;
  const child = spawn(cmd!, [...pre, ...composeArgs(ctx), '--profile', 'cli', 'run', '--rm', '-T', 'cli', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

/**
 * `psql` in the (one) container of a database service, as the superuser over
 * its Unix socket: the rows, one per line, columns joined by `|`. Throws with
 * psql's message when the statement fails.
 */
export function psqlIn(service: string, sql: string, db = 'tessera'): string[] {
  const [id] = containersOf(service);
  if (!id) throw new Error(`no running ${service} container`);
  return docker(['exec', '-u', 'postgres', id, 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '/var/run/postgresql', '-U', 'tessera', '-d', db, '-c', sql])
    .split('\n').filter((l) => l !== '');
}
