/**
 * `tessera scale --apps N` for the Docker stacks: the orchestrator starts and
 * stops the app containers, this waits until it has. NGINX needs nothing: it
 * resolves the `app` service name again every second (nginx/compose.conf),
 * and removed replicas drain on SIGTERM as they do in the local stack.
 *
 *  - compose: `<compose> up -d --no-deps --no-recreate --scale app=N app`,
 *    then every app container of the project answers its healthcheck;
 *  - Swarm: `docker service scale <stack>_app=N`, then N tasks run.
 */
import { spawn } from 'node:child_process';

/** Where the stack runs. */
export type DockerTarget =
  | { kind: 'compose'; files: string[]; project?: string | undefined; envFile?: string | undefined }
  | { kind: 'swarm'; stack: string };

/** Result of {@link scaleDocker}. */
export interface DockerScaleResult {
  /** Containers (compose) or running tasks (Swarm) of the app service afterwards. */
  replicas: string[];
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

async function must(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? 'on a signal'}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** `docker compose` (v2) when it answers, else `docker-compose` (1.29). */
export async function composeCommand(): Promise<string[]> {
  const v2 = await run('docker', ['compose', 'version'], 15_000).catch(() => null);
  if (v2?.code === 0) return ['docker', 'compose'];
  const v1 = await run('docker-compose', ['version'], 15_000).catch(() => null);
  if (v1?.code === 0) return ['docker-compose'];
  throw new Error('no compose tool: install the Docker Compose plugin (`docker compose`) or docker-compose');
}

function composeArgs(target: Extract<DockerTarget, { kind: 'compose' }>): string[] {
  return [...target.files.flatMap((f) => ['-f', f]), ...(target.project ? ['-p', target.project] : []), ...(target.envFile ? ['--env-file', target.envFile] : [])];
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function scaleCompose(target: Extract<DockerTarget, { kind: 'compose' }>, apps: number, timeoutMs: number): Promise<DockerScaleResult> {
  const [cmd, ...pre] = await composeCommand();
  const base = [...pre, ...composeArgs(target)];
  await must(cmd!, [...base, 'up', '-d', '--no-deps', '--no-recreate', '--scale', `app=${apps}`, 'app']);
  const replicas = await until(`${apps} healthy app containers`, timeoutMs, async () => {
    const ids = (await must(cmd!, [...base, 'ps', '-q', 'app'])).split('\n').map((l) => l.trim()).filter(Boolean);
    if (ids.length !== apps) return undefined;
    const health = (await must('docker', ['inspect', '--format', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', ...ids])).trim().split('\n');
    return health.every((h) => h === 'running healthy') ? ids.map((id) => id.slice(0, 12)) : undefined;
  });
  return { replicas };
}

async function scaleSwarm(target: Extract<DockerTarget, { kind: 'swarm' }>, apps: number, timeoutMs: number): Promise<DockerScaleResult> {
  const service = `${target.stack}_app`;
  await must('docker', ['service', 'scale', '--detach', `${service}=${apps}`]);
  const replicas = await until(`${apps} running tasks of ${service}`, timeoutMs, async () => {
    const tasks = (await must('docker', ['service', 'ps', service, '--filter', 'desired-state=running', '--format', '{{.Name}} {{.CurrentState}}']))
      .split('\n').map((l) => l.trim()).filter(Boolean);
    const running = tasks.filter((t) => /^\S+ Running\b/.test(t));
    return running.length === apps && tasks.length === apps ? running.map((t) => t.split(' ')[0]!) : undefined;
  });
  return { replicas };
}

/** Scales the app service of a compose project or Swarm stack to `apps` and waits for it. */
export async function scaleDocker(target: DockerTarget, apps: number, timeoutMs = 120_000): Promise<DockerScaleResult> {
  return target.kind === 'compose' ? scaleCompose(target, apps, timeoutMs) : scaleSwarm(target, apps, timeoutMs);
}
