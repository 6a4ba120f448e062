/**
 * The app image's contents, run on the host. No Docker engine runs on the
 * team's machines, so the image is never built here; this suite does what its
 * Dockerfile stages do, with the same commands, and runs the result the way
 * the compose services do:
 *
 *  - build: the build context (.dockerignore's list), the compiler with every
 *    dependency, `tsc -p tsconfig.build.json` → dist/;
 *  - runtime: package*.json, bin/, shards/, dist/ and the entrypoint, with
 *    `npm ci --omit=dev --omit=optional --ignore-scripts` (no compiler);
 *  - `migrate`: `node dist/cli/main.js migrate --topology …` (idempotent);
 *  - `app`: `tessera-entrypoint node --enable-source-maps dist/server.js`
 *    without TESSERA_APP_ID, so the replica names itself after $HOSTNAME.
 *
 * It uses the shared test stack's catalog and Redis. What it cannot show: the
 * official base images, the network between containers, compose itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testStack } from '../support/stack.js';
import { serviceAuthHeaders } from '../support/auth.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** What the Dockerfile copies into its stages. */
const BUILD_CONTEXT = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'shards', 'bin', 'docker'];
const RUNTIME_FILES = ['package.json', 'package-lock.json', 'bin', 'shards'];

let tmp: string;
let runtimeDir: string;

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}: ${r.stderr || r.stdout}${r.error ? String(r.error) : ''}`);
  return r.stdout;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tessera-image-'));
  // Stage "build": the context, every dependency (the project's own, linked in place of `npm ci`), tsc.
  const buildDir = join(tmp, 'build');
  mkdirSync(buildDir);
  for (const entry of BUILD_CONTEXT) cpSync(join(ROOT, entry), join(buildDir, entry), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
  sh(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], buildDir);
  unlinkSync(join(buildDir, 'node_modules'));

  // Stage "runtime": runtime dependencies only, then the compiled server and the entrypoint.
  runtimeDir = join(tmp, 'app');
  mkdirSync(runtimeDir);
  for (const entry of RUNTIME_FILES) cpSync(join(ROOT, entry), join(runtimeDir, entry), { recursive: true });
  sh('npm', ['ci', '--omit=dev', '--omit=optional', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], runtimeDir);
  cpSync(join(buildDir, 'dist'), join(runtimeDir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'docker', 'app', 'entrypoint.sh'), join(runtimeDir, 'tessera-entrypoint'));
}, 600_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The environment the Dockerfile and the compose `app` service give a container, pointed at the test stack. */
function containerEnv(port: number): NodeJS.ProcessEnv {
  const stack = testStack();
  return {
    PATH: process.env.PATH,
    HOME: tmp,
    HOSTNAME: 'c0ffee123456',
    NODE_ENV: 'production',
    TESSERA_USE_DIST: '1',
    TESSERA_HOST: '127.0.0.1',
    TESSERA_PORT: String(port),
    TESSERA_CATALOG_URL: stack.catalog.url,
    TESSERA_REDIS_URL: stack.redis.url,
    TESSERA_LOG_LEVEL: 'warn',
    TESSERA_DRAIN_MS: '5000',
    TESSERA_AUTH_JWKS_FILE: stack.auth!.jwksFile,
  };
}

describe('the app image, its stages run on the host', () => {
  it('runs what the Dockerfile and the compose file run', () => {
    // If one of these changes, this suite must change with it.
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('RUN npx tsc -p tsconfig.build.json');
    expect(dockerfile).toContain('RUN npm ci --omit=dev --omit=optional --ignore-scripts');
    for (const entry of RUNTIME_FILES.filter((f) => f !== 'package-lock.json')) expect(dockerfile).toMatch(new RegExp(`^COPY ${entry} `, 'm'));
    expect(dockerfile).toContain('COPY docker/app/entrypoint.sh /usr/local/bin/tessera-entrypoint');
    expect(dockerfile).toContain('ENTRYPOINT ["tessera-entrypoint"]');
    expect(dockerfile).toContain('CMD ["node", "--enable-source-maps", "dist/server.js"]');
    expect(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')).toContain('command: ["node", "dist/cli/main.js", "migrate", "--topology", "shards/compose.json"]');
  });

  it('runtime stage holds no compiler and no dev dependency', () => {
    expect(existsSync(join(runtimeDir, 'dist', 'server.js'))).toBe(true);
    expect(existsSync(join(runtimeDir, 'dist', 'cli', 'main.js'))).toBe(true);
    for (const dev of ['typescript', 'vitest', 'eslint', 'autocannon']) expect(existsSync(join(runtimeDir, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(join(runtimeDir, 'node_modules', 'fastify'))).toBe(true);
  });

  it('`migrate` runs the compiled CLI against a migrated catalog again, changing nothing', () => {
    const topology = join(testStack().dir, 'topology.json');
    const out = sh(process.execPath, ['dist/cli/main.js', 'migrate', '--topology', topology], runtimeDir, containerEnv(0));
    expect(out).toMatch(/^migrations applied; shard map v\d+$/m);
    // Idempotent: the seed is not applied twice, so the map version stays.
    const again = sh(process.execPath, ['dist/cli/main.js', 'migrate', '--topology', topology], runtimeDir, containerEnv(0));
    expect(again).toEqual(out);
    expect(sh('sh', ['-c', 'node bin/tessera.mjs --help'], runtimeDir, containerEnv(0))).toMatch(/migrate/);
  });

  it('`app` serves the API from dist/, named after its hostname, and drains to exit 0 on SIGTERM', async () => {
    const port = await freePort();
    const child: ChildProcess = spawn('sh', ['tessera-entrypoint', process.execPath, '--enable-source-maps', 'dist/server.js'], {
      cwd: runtimeDir, env: containerEnv(port), stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 60_000;
      let ready = false;
      while (!ready && Date.now() < deadline) {
        ready = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 250));
      }
      expect(ready, `not ready in 60 s: ${stderr}`).toBe(true);

      const email = `image-${randomUUID()}@example.com`;
      const auth = await serviceAuthHeaders();
      const created = await fetch(`${url}/v1/users`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ email, name: 'Image' }) });
      expect(created.status).toBe(201);
      expect(created.headers.get('x-tessera-app')).toBe('c0ffee123456');
      const { id } = (await created.json()) as { id: string };
      // Through the test stack's NGINX: another replica reads what this one wrote.
      const read = await fetch(`${testStack().nginx.url}/v1/users/${id}`, { headers: auth });
      expect(read.status).toBe(200);
      expect(await read.json()).toMatchObject({ id, email });
      expect(stderr).not.toMatch(/"level":(50|60)/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
