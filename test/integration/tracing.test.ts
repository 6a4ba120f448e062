/**
 * Tracing end to end with an in-memory exporter: an app replica in this
 * process (wired to the shared test stack's catalog, shards and Redis)
 * behind a real NGINX rendered from the stack's template. A request through
 * NGINX yields one trace that keeps the caller's trace id and covers NGINX's
 * request id, the app, the cache tier, the shard and its statements; logs and
 * problem bodies name the trace.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { authEnv } from '../../src/cluster/auth.js';
import { startNginx, stopNginx } from '../../src/cluster/nginx.js';
import { isPortFree } from '../../src/cluster/ports.js';
import type { NginxInfo } from '../../src/cluster/stack-file.js';
import { loadConfig } from '../../src/config/env.js';
import { traceLogMixin } from '../../src/observability/log-context.js';
import { startTracing, type TracingHandle } from '../../src/observability/tracing.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { serviceAuthHeaders } from '../support/auth.js';
import { call, createUser } from '../support/http.js';
import { PORT_OFFSET } from '../support/ports.js';
import { testStack } from '../support/stack.js';

const exporter = new InMemorySpanExporter();
const lines: Record<string, unknown>[] = [];
let tracing: TracingHandle;
let runtime: Runtime;
let app: FastifyInstance;
let nginx: NginxInfo;
let dir: string;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

async function freePort(from: number): Promise<number> {
  for (let port = from; port < from + 50; port++) if (await isPortFree(port)) return port;
  throw new Error(`no free port from ${from}`);
}

beforeAll(async () => {
  const stack = testStack();
  tracing = (await startTracing({ exporter, instanceId: 'trace-test' }))!;
  const traceLog = traceLogMixin();
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  const log = pino({ level: 'info', mixin: traceLog.mixin }, sink);
  traceLog.bindRoot(log);
  const config = loadConfig({
    TESSERA_APP_ID: 'trace-test', TESSERA_CATALOG_URL: stack.catalog.url, TESSERA_REDIS_URL: stack.redis.url,
    TESSERA_RATE_LIMIT: '1000000', ...authEnv(stack.auth),
  });
  runtime = await createRuntime(config, log);
  app = await buildApp({ ...runtime.api, logger: log, appId: 'trace-test', accessLog: true });
  const appPort = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port);
  dir = mkdtempSync(join(tmpdir(), 'tessera-trace-'));
  const port = await freePort(18980 + PORT_OFFSET);
  nginx = {
    url: `http://127.0.0.1:${port}`, port, pid: 0, prefix: dir, config: join(dir, 'nginx.conf'), rate: '100000r/s', burst: 100000,
    anonRate: '100000r/s', anonBurst: 100000, workers: 1, accessLog: join(dir, 'access.log'), errorLog: join(dir, 'error.log'),
    upstreamPorts: [appPort],
  };
  nginx.pid = await startNginx(nginx, []);
});

afterAll(async () => {
  if (nginx?.pid) await stopNginx(nginx);
  await app?.close();
  await runtime?.close();
  await tracing?.shutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tracing on (in-memory exporter), through NGINX', () => {
  it('keeps the caller\'s trace id: one trace with the request id, the route, the cache tier, the shard and its statements', async () => {
    const created = await createUser({}, nginx.url);
    const id = created.body.id as string;
    const traceId = hex(16);
    const callerSpan = hex(8);
    const res = await call('GET', `/v1/users/${id}`, { base: nginx.url, headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
    expect(res.status).toBe(200);
    await tracing.flush();
    const spans = spansOf(traceId);
    const server = spans.find((s) => s.name === 'GET /v1/users/:id')!;
    expect(server, spans.map((s) => s.name).join(', ')).toBeDefined();
    expect(parentOf(server)).toBe(callerSpan);
    expect(server.attributes).toMatchObject({
      'http.route': '/v1/users/:id', 'http.request.method': 'GET', 'http.response.status_code': 200,
      'tessera.request_id': res.headers.get('x-request-id'), 'tessera.app': 'trace-test', 'tessera.shard': res.headers.get('x-tessera-shard'),
    });
    const cache = spans.find((s) => s.name.startsWith('cache.read'))!;
    expect(parentOf(cache)).toBe(server.spanContext().spanId);
    expect(cache.attributes['tessera.cache.tier']).toBe(res.headers.get('x-tessera-cache'));
    // The first read after a create misses both tiers (the create raised the key's floor): L2 GET, then the shard.
    expect(res.headers.get('x-tessera-cache')).toBe('miss');
    const l2 = spans.find((s) => s.attributes['db.system.name'] === 'redis' && s.name === 'GET')!;
    expect(parentOf(l2)).toBe(cache.spanContext().spanId);
    const shard = spans.find((s) => s.name.startsWith('shard.read '))!;
    expect(shard.attributes['tessera.shard']).toBe(res.headers.get('x-tessera-shard'));
    expect(shard.attributes['tessera.shard.role']).toBe(res.headers.get('x-tessera-source'));
    const select = spans.find((s) => s.attributes['db.system.name'] === 'postgresql' && s.attributes['db.operation.name'] === 'SELECT')!;
    expect(parentOf(select)).toBe(shard.spanContext().spanId);
    expect(select.attributes).toMatchObject({ 'tessera.shard': res.headers.get('x-tessera-shard'), 'db.namespace': 'tessera' });
    expect(select.attributes['tessera.shard.role']).toBe(res.headers.get('x-tessera-source'));

    // Read again: an L1 hit, one cache span and no database or Redis call.
    const again = hex(16);
    const hit = await call('GET', `/v1/users/${id}`, { base: nginx.url, headers: { traceparent: `00-${again}-${hex(8)}-01` } });
    expect(hit.headers.get('x-tessera-cache')).toBe('l1');
    await tracing.flush();
    expect(spansOf(again).map((s) => s.name).sort()).toEqual(['GET /v1/users/:id', 'cache.read l1']);
  });

  it('gives a request without a traceparent the trace id NGINX logged for it', async () => {
    const res = await call('GET', '/v1/users/by-email/nobody-here@example.com', { base: nginx.url });
    expect(res.status).toBe(404);
    const requestId = res.headers.get('x-request-id');
    // NGINX writes its access log in 64 KiB buffers flushed every second.
    let logged: { trace_id?: string } | undefined;
    for (let i = 0; i < 50 && !logged; i++) {
      logged = readFileSync(nginx.accessLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { request_id: string; trace_id: string }).find((l) => l.request_id === requestId);
      if (!logged) await new Promise((r) => setTimeout(r, 100));
    }
    expect(logged?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    await tracing.flush();
    expect(spansOf(logged!.trace_id!).map((s) => s.name)).toContain('GET /v1/users/by-email/:email');
    expect(res.body.traceId).toBe(logged!.trace_id);
  });

  it('names the request and the trace in problem bodies and in every log line about the request', async () => {
    const traceId = hex(16);
    const res = await call('GET', `/v1/users/${crypto.randomUUID()}`, { base: nginx.url, headers: { traceparent: `00-${traceId}-${hex(8)}-01` } });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ requestId: res.headers.get('x-request-id'), traceId });
    const about = lines.filter((l) => l.reqId === res.headers.get('x-request-id'));
    expect(about.length).toBeGreaterThan(0);
    for (const line of about) expect(line.traceId).toBe(traceId);
  });

  it('with a caller that says "not sampled", records nothing and still names the trace', async () => {
    const traceId = hex(16);
    const res = await call('GET', `/v1/users/${crypto.randomUUID()}`, { base: nginx.url, headers: { traceparent: `00-${traceId}-${hex(8)}-00`, ...(await serviceAuthHeaders()) } });
    expect(res.body.traceId).toBe(traceId);
    await tracing.flush();
    expect(spansOf(traceId)).toEqual([]);
  });
});
