/**
 * The edge: NGINX in front of app replicas that come and go. Runs its own
 * small stack (2 shards, no streaming replicas, 2 apps) because it kills,
 * drains and adds app replicas; the shared test stack is left alone.
 *
 * Every load here is bounded (20 clients for a few seconds), reuses its
 * keep-alive connections as any HTTP client does, never resends, and counts as
 * a failure any network error or any status other than the expected one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type ApiDeps } from '../../src/api/app.js';
import { appEnv, stackWiring, startApp, waitAppReady, type AppWiring } from '../../src/cluster/app.js';
import { down, readStack, up, writeStack, type AppInfo, type StackInfo } from '../../src/cluster/index.js';
import { nginxWorkers, reloadNginxAndSettle, runningNginxPid } from '../../src/cluster/nginx.js';
import { runningAppEnv, scale } from '../../src/cluster/scale.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { PORT_OFFSET, testPorts } from '../support/ports.js';
import { serviceAuthHeaders } from '../support/auth.js';

const DIR = resolve('.tessera-test/edge');
// The drain outlasts NGINX's upstream keepalive_timeout (4 s), as the default (10 s) does.
const DRAIN_MS = 6000;
// Every load here is one token from one address: far from its per-caller limit (tested in rate-limits.test.ts).
const APP_ENV = { TESSERA_LOG_LEVEL: 'warn', TESSERA_DRAIN_MS: String(DRAIN_MS), TESSERA_RATE_LIMIT: '1000000' };
const quiet = (): undefined => undefined;

let base: string;
let auth: Record<string, string>;
const users: string[] = [];

beforeAll(async () => {
  const { stack } = await up({
    dir: DIR, shards: 2, replicas: 0, apps: 2, strategy: 'hash', ...testPorts({ port: 18280, pgBasePort: 25820, redisPort: 16590, appBasePort: 13401 }),
    // The loads below come from one address and are bounded by their client
    // count, not by a rate: a fast machine must not meet the rate limit here
    // (the rate-limit test sets its own).
    rate: '100000r/s', burst: 100000,
    appEnv: APP_ENV, log: quiet,
  });
  base = stack.nginx.url;
  auth = await serviceAuthHeaders(DIR);
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${base}/v1/users`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ email: `edge-${randomUUID()}@example.com`, name: `Edge ${i}` }),
    });
    expect(res.status).toBe(201);
    users.push(((await res.json()) as { id: string }).id);
  }
});

afterAll(async () => {
  await down({ dir: DIR, purge: true, log: quiet });
});

// ---------------------------------------------------------------- load ----

type Op = 'get' | 'put' | 'post';

interface LoadStats {
  ok: number;
  /** One line per failed request: method, path, status or error. */
  failures: string[];
  /** Responses per replica (X-Tessera-App). */
  byApp: Map<string, number>;
}

const pick = <T,>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** One request of the mix; returns the replica that served it, or throws describing the failure. */
async function request(op: Op, headers: Record<string, string> = {}): Promise<string> {
  const id = pick(users);
  const [method, path, body, expected] =
    op === 'get' ? ['GET', `/v1/users/${id}`, undefined, [200]]
      : op === 'put' ? ['PUT', `/v1/users/${id}/data/edge-${Math.floor(Math.random() * 5)}`, JSON.stringify({ at: Date.now() }), [200, 201]]
        : ['POST', '/v1/users', JSON.stringify({ email: `edge-${randomUUID()}@example.com`, name: 'Edge load' }), [201]];
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method, body, headers: { ...auth, ...(body && { 'content-type': 'application/json' }), ...headers }, signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw new Error(`${method} ${path}: ${(err as Error).message} (${String((err as Error).cause ?? '')})`);
  }
  const text = await res.text();
  if (!expected.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  return res.headers.get('x-tessera-app') ?? '?';
}

/**
 * Runs `clients` request loops while `action` runs (plus `before` ms before
 * it and `after` ms after it) and returns the action's result with the stats.
 */
async function underLoad<T>(
  ops: Op[],
  action: () => Promise<T>,
  opts: { clients?: number; before?: number; after?: number } = {},
): Promise<{ result: T; stats: LoadStats }> {
  const stats: LoadStats = { ok: 0, failures: [], byApp: new Map() };
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const app = await request(pick(ops));
        stats.ok++;
        stats.byApp.set(app, (stats.byApp.get(app) ?? 0) + 1);
      } catch (err) {
        stats.failures.push((err as Error).message);
      }
    }
  };
  const loops = Array.from({ length: opts.clients ?? 20 }, loop);
  try {
    await sleep(opts.before ?? 1000);
    const result = await action();
    await sleep(opts.after ?? 1000);
    return { result, stats };
  } finally {
    running = false;
    await Promise.all(loops);
    console.error(`[edge] load: ${stats.ok} ok, ${stats.failures.length} failed, by replica ${JSON.stringify(Object.fromEntries(stats.byApp))}`);
  }
}

// ------------------------------------------------------------ replicas ----

function wiring(stack: StackInfo): AppWiring {
  return stackWiring(stack, APP_ENV);
}

function appOf(id: string): AppInfo {
  const app = readStack(DIR).apps.find((a) => a.id === id);
  if (!app) throw new Error(`no ${id} in the stack`);
  return app;
}

async function recordPid(id: string, pid: number): Promise<void> {
  const stack = readStack(DIR);
  stack.apps.find((a) => a.id === id)!.pid = pid;
  await writeStack(stack);
}

/** Starts a replica as a child of this process (not detached), so that its exit code can be read. */
async function spawnChild(app: AppInfo): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const fd = openSync(app.log, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', readStack(DIR).runtime.appEntry], {
    cwd: readStack(DIR).runtime.projectRoot, env: appEnv(app, wiring(readStack(DIR))), stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  await waitAppReady(app, child.pid!, 60_000);
  await recordPid(app.id, child.pid!);
  return { child, exited };
}

/** A PUT to one replica directly whose body is held back: in flight until `finish()`. */
function slowPut(app: AppInfo, userId: string): { finish: () => void; response: Promise<string> } {
  const body = JSON.stringify({ slow: true, pad: 'x'.repeat(64) });
  const socket = tcpConnect(app.port, '127.0.0.1');
  socket.write(`PUT /v1/users/${userId}/data/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth.authorization}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
  const response = new Promise<string>((done, fail) => {
    let text = '';
    socket.on('data', (chunk) => { text += chunk.toString(); });
    socket.on('close', () => done(text));
    socket.on('error', fail);
  });
  return { finish: () => socket.write(body.slice(10)), response };
}

// --------------------------------------------------------------- tests ----

describe('NGINX in front of the app replicas', () => {
  it('spreads requests over every replica and says which one served each', async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const app = await request('get');
      seen.set(app, (seen.get(app) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(['app-1', 'app-2']);
    for (const n of seen.values()) expect(n).toBeGreaterThanOrEqual(20);
  });

  it('loses no GET when a replica is killed (SIGKILL) under a steady load: NGINX retries on the other', async () => {
    const victim = appOf('app-2');
    const { stats } = await underLoad(['get'], async () => {
      process.kill(-victim.pid, 'SIGKILL');
    }, { before: 1500, after: 3000 });
    expect(stats.failures).toEqual([]);
    expect(stats.ok).toBeGreaterThan(200);
    expect(stats.byApp.get('app-1')).toBeGreaterThan(0);
  });

  it('fails no request, POSTs included, when a replica is stopped (SIGTERM) under load; it finishes in-flight requests and exits 0', async () => {
    // The killed app-2 comes back as a child of this process, to see its exit code.
    const app = appOf('app-2');
    const { child, exited } = await spawnChild(app);
    const inFlight = slowPut(app, users[0]!);
    await sleep(200);
    let stoppedAt = 0;
    let exitedAt = 0;
    void exited.then(() => { exitedAt = Date.now(); });
    const { stats } = await underLoad(['get', 'put', 'post'], async () => {
      stoppedAt = Date.now();
      child.kill('SIGTERM');
      await sleep(1000);
      expect(exitedAt, 'exited with a request in flight').toBe(0);
      inFlight.finish(); // admitted before the signal: must complete normally
      return exited;
    }, { before: 1500, after: 1000 });
    expect(await exited).toBe(0);
    expect(exitedAt - stoppedAt).toBeLessThan(DRAIN_MS + 5000);
    expect(await inFlight.response).toMatch(/^HTTP\/1\.1 20[01] /);
    expect(stats.failures).toEqual([]);
    expect(stats.byApp.get('app-2')).toBeGreaterThan(0); // it served until the signal

    const restarted = await startApp(app, wiring(readStack(DIR)));
    await recordPid(app.id, restarted);
  });

  // NGINX must not reload: a reload closes the clients' idle keep-alive
  // connections, and a client that reuses one at that instant sees it closed
  // without a response. The replicas come and go in NGINX's upstream slots.
  it('fails no request, POSTs included, while scaling from 2 to 4 replicas and back to 2, without reloading NGINX', async () => {
    const workersBefore = await nginxWorkers(runningNginxPid(readStack(DIR).nginx)!);
    expect(workersBefore.length).toBeGreaterThan(0);
    let during = new Map<string, number>();
    const { stats } = await underLoad(['get', 'put', 'post'], async () => {
      const grown = await scale({ dir: DIR, apps: 4, log: quiet });
      expect(grown.added).toEqual(['app-3', 'app-4']);
      expect(runningAppEnv(grown.stack.apps.slice(2))).toMatchObject(APP_ENV); // new replicas run like the old ones
      await sleep(5500); // NGINX skips a slot it found empty for up to fail_timeout (5 s)
      during = await countServedBy(100);
      const shrunk = await scale({ dir: DIR, apps: 2, log: quiet });
      expect(shrunk.removed).toEqual(['app-3', 'app-4']);
      return shrunk;
    }, { before: 1000, after: 1500 });
    expect(stats.failures).toEqual([]);
    expect(stats.ok).toBeGreaterThan(300);
    expect([...during.keys()].sort()).toEqual(['app-1', 'app-2', 'app-3', 'app-4']);
    expect(readStack(DIR).apps.map((a) => a.id)).toEqual(['app-1', 'app-2']);
    expect([...(await countServedBy(40)).keys()].sort()).toEqual(['app-1', 'app-2']);
    expect(await nginxWorkers(runningNginxPid(readStack(DIR).nginx)!)).toEqual(workersBefore); // the same workers: no reload
  });

  it('scales past the upstream slots by re-rendering NGINX with more of them', async () => {
    expect(readStack(DIR).nginx.upstreamPorts).toHaveLength(4);
    const grown = await scale({ dir: DIR, apps: 5, log: quiet });
    expect(grown.added).toEqual(['app-3', 'app-4', 'app-5']);
    expect(readStack(DIR).nginx.upstreamPorts).toEqual([13401, 13402, 13403, 13404, 13405].map((p) => p + PORT_OFFSET));
    expect(readFileSync(readStack(DIR).nginx.config, 'utf8')).toContain(`server 127.0.0.1:${13405 + PORT_OFFSET} `);
    await sleep(1000);
    expect([...(await countServedBy(150)).keys()]).toContain('app-5');
    const shrunk = await scale({ dir: DIR, apps: 2, log: quiet });
    expect(shrunk.removed).toEqual(['app-3', 'app-4', 'app-5']);
    expect(readStack(DIR).nginx.upstreamPorts).toHaveLength(5); // slots stay: growing again needs no reload
  });

  it('answers a burst over the per-address rate limit with 429 problem+json while another address carries on', async () => {
    const stack = readStack(DIR);
    await reloadNginxAndSettle({ ...stack, nginx: { ...stack.nginx, rate: '10r/s', burst: 5 } }, stack.apps);
    try {
      // Another client on another address (127.0.0.2 is loopback too), with the same token: limits at NGINX are per address.
      const normal = (async () => {
        const statuses: number[] = [];
        for (let i = 0; i < 8; i++) {
          statuses.push((await getFrom('127.0.0.2', `/v1/users/${pick(users)}`, auth)).status);
          await sleep(250);
        }
        return statuses;
      })();
      const burst = await Promise.all(Array.from({ length: 60 }, () => getFrom('127.0.0.1', `/v1/users/${pick(users)}`, auth)));
      const limited = burst.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(30);
      expect(burst.filter((r) => r.status !== 429).every((r) => r.status === 200)).toBe(true);
      expect(limited[0]!.headers['content-type']).toBe('application/problem+json');
      expect(limited[0]!.headers['retry-after']).toBe('1');
      expect(JSON.parse(limited[0]!.body)).toMatchObject({ status: 429, code: 'TESSERA_ERR_RATE_LIMITED' });
      expect(await normal).toEqual(Array(8).fill(200));
    } finally {
      await reloadNginxAndSettle(stack, stack.apps);
    }
    const after = await Promise.all(Array.from({ length: 30 }, () => getFrom('127.0.0.1', `/v1/users/${pick(users)}`, auth).then((r) => r.status)));
    expect(after.every((s) => s === 200)).toBe(true);
  });

  it('holds a client that sends a new garbage Authorization value each time to the per-address budget of callers without a token', async () => {
    const stack = readStack(DIR);
    await reloadNginxAndSettle({ ...stack, nginx: { ...stack.nginx, anonRate: '5r/s', anonBurst: 5 } }, stack.apps);
    try {
      const flood = (await Promise.all(Array.from({ length: 60 }, (_, i) => getFrom('127.0.0.1', `/v1/users/${pick(users)}`, { authorization: `Bearer garbage-${i}-${randomUUID()}` }))))
        .map((r) => ({ status: r.status, fromApp: r.headers['x-tessera-app'] !== undefined, body: r.body }));
      // NGINX itself refused most of them: they never reached an app.
      const atEdge = flood.filter((r) => r.status === 429 && !r.fromApp);
      expect(atEdge.length).toBeGreaterThanOrEqual(45);
      expect(JSON.parse(atEdge[0]!.body)).toMatchObject({ status: 429, code: 'TESSERA_ERR_RATE_LIMITED' });
      expect(flood.every((r) => r.status === 429 || r.status === 401)).toBe(true);
      // So does a client without any Authorization header.
      const bare = await Promise.all(Array.from({ length: 20 }, () => getFrom('127.0.0.1', `/v1/users/${pick(users)}`, {}).then((r) => r.status)));
      expect(bare.filter((st) => st === 429).length).toBeGreaterThanOrEqual(15);
      // A caller with a well-formed token from the same address is not in that budget.
      const withToken = await Promise.all(Array.from({ length: 20 }, () => getFrom('127.0.0.1', `/v1/users/${pick(users)}`, auth).then((r) => r.status)));
      expect(withToken).toEqual(Array(20).fill(200));
    } finally {
      await reloadNginxAndSettle(stack, stack.apps);
    }
  });
});

/**
 * A GET on a connection of its own from a given local address (another
 * client, as NGINX sees it). A new connection each time: the tests around
 * NGINX reloads must not reuse a pooled keep-alive connection that the old
 * workers closed (any client would see that too, and NGINX documents it).
 */
function getFrom(localAddress: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(base);
  return new Promise((done, fail) => {
    const req = httpRequest({ host: url.hostname, port: Number(url.port), path, headers, localAddress, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

async function countServedBy(n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const app = await request('get');
    seen.set(app, (seen.get(app) ?? 0) + 1);
  }
  return seen;
}

// ------------------------------------------- one replica, in process ----

/** An app whose services are never reached: the plugins answer first. */
async function bareApp(extra: Partial<ApiDeps> & { draining?: boolean } = {}) {
  const deps: ApiDeps = {
    users: {} as ApiDeps['users'],
    documents: {} as ApiDeps['documents'],
    probe: { draining: () => extra.draining ?? false, check: async () => ({ ready: true, detail: {} }) },
    metrics: createMetrics('edge-test'),
    limits: { maxDocBytes: 65536, maxProfileBytes: 16384 },
    appId: 'edge-test',
    ...extra,
  };
  const app = await buildApp(deps);
  await app.ready();
  return app;
}

describe('an app replica on its own', () => {
  it('while draining answers 503 problem+json with Retry-After and Connection: close; ops routes still answer', async () => {
    const app = await bareApp({ draining: true });
    try {
      const res = await app.inject({ method: 'GET', url: `/v1/users/${randomUUID()}` });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.headers.connection).toBe('close');
      expect(res.headers['x-tessera-app']).toBe('edge-test');
      expect(res.json()).toMatchObject({ status: 503, code: 'TESSERA_ERR_SHUTTING_DOWN' });
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'draining' });
    } finally {
      await app.close();
    }
  });

  it('while draining closes the connection of an idempotent request that came through NGINX, without an answer, so that NGINX resends it elsewhere', async () => {
    const app = await bareApp({ draining: true });
    try {
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      const get = (headers: Record<string, string>) => new Promise<string>((done) => {
        const socket = tcpConnect(Number(new URL(address).port), '127.0.0.1');
        let text = '';
        const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        socket.write(`GET /v1/users/${randomUUID()} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`);
        socket.on('data', (chunk) => { text += chunk.toString(); });
        socket.on('close', () => done(text));
        socket.on('error', () => undefined);
      });
      expect(await get({ 'X-Tessera-Edge': 'nginx' })).toBe('');
      expect(await get({})).toMatch(/^HTTP\/1\.1 503 /);
    } finally {
      await app.close();
    }
  });

  it('while draining still serves POST and PATCH (NGINX cannot resend those elsewhere), closing the connection after', async () => {
    const app = await bareApp({ draining: true });
    try {
      // A body the schema refuses: the answer comes from the route, not from the drain.
      for (const [method, url] of [['POST', '/v1/users'], ['PATCH', `/v1/users/${randomUUID()}`]] as const) {
        const res = await app.inject({ method, url, payload: { nope: true } });
        expect(res.statusCode, method).toBe(400);
        expect(res.json(), method).toMatchObject({ code: 'TESSERA_ERR_VALIDATION' });
        expect(res.headers.connection, method).toBe('close');
      }
      for (const method of ['PUT', 'DELETE'] as const) {
        expect((await app.inject({ method, url: `/v1/users/${randomUUID()}/data/k`, payload: {} })).statusCode, method).toBe(503);
      }
    } finally {
      await app.close();
    }
  });

  it('under event-loop pressure sheds requests with 503 problem+json and Retry-After, but not its health checks', async () => {
    const app = await bareApp({ loadShedding: { maxEventLoopDelayMs: 50, maxEventLoopUtilization: 0, sampleIntervalMs: 50 } });
    try {
      // Sustained lag: the loop is blocked 80 ms out of every ~80 ms.
      const blocker = setInterval(() => {
        const until = Date.now() + 80;
        while (Date.now() < until) { /* busy */ }
      }, 1);
      let shed: Awaited<ReturnType<typeof app.inject>> | undefined;
      let health = 0;
      try {
        for (let i = 0; i < 60 && !shed; i++) {
          await sleep(20);
          const res = await app.inject({ method: 'GET', url: `/v1/users/${randomUUID()}` });
          if (res.statusCode === 503) shed = res;
        }
        health = (await app.inject({ method: 'GET', url: '/healthz' })).statusCode;
      } finally {
        clearInterval(blocker);
      }
      expect(shed, 'no request was shed').toBeDefined();
      expect(health).toBe(200);
      expect(shed!.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(shed!.headers['retry-after']).toBe('1');
      expect(shed!.json()).toMatchObject({ status: 503, code: 'TESSERA_ERR_OVERLOADED' });
    } finally {
      await app.close();
    }
  });
});
