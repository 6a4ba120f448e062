/**
 * The local stack with `--tracing` and `--monitoring`, as an operator runs
 * it: real Jaeger (built from the Go module proxy by the bootstrap) and real
 * Prometheus (Debian's) beside a small stack of its own (one shard with a
 * replica, two apps in four NGINX slots).
 *
 * - a request through NGINX with a caller's traceparent reaches Jaeger as one
 *   trace: NGINX's request id, the app, the cache tier, the shard statement;
 * - after `tessera scale --apps 4`, Prometheus scrapes four app targets;
 * - a planned failover run by the CLI is a trace with a span per step;
 * - a stopped replica makes a shipped alert rule pending.
 *
 * Every wait is bounded and polls a condition; the Prometheus of the stack
 * scrapes and evaluates every 5 s (the shipped rules are unchanged: an
 * alert is pending from its first true evaluation, whatever its `for`).
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, pgContextFor, readStack, stopInstance, up } from '../../src/cluster/index.js';
import { scale } from '../../src/cluster/scale.js';
import { serviceAuthHeaders } from '../support/auth.js';
import { call } from '../support/http.js';
import { eventually } from '../support/cache.js';
import { PORT_OFFSET, testPorts } from '../support/ports.js';

const DIR = resolve('.tessera-test/observability');
const PORTS = testPorts({ port: 18700, pgBasePort: 25900, redisPort: 17000, appBasePort: 13800 });
const PROMETHEUS_PORT = 19090 + PORT_OFFSET;
const JAEGER_PORT = 19686 + PORT_OFFSET;
const log = (line: string) => console.error(`[observability] ${line}`);

let headers: Record<string, string>;
const prom = `http://127.0.0.1:${PROMETHEUS_PORT}`;
const jaeger = `http://127.0.0.1:${JAEGER_PORT}`;

async function json<T>(url: string): Promise<T | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return res.ok ? ((await res.json()) as T) : null;
  } catch {
    return null;
  }
}

beforeAll(async () => {
  await down({ dir: DIR, purge: true, log });
  await up({
    dir: DIR, shards: 1, replicas: 1, apps: 2, appSlots: 4, ...PORTS,
    tracing: true, traceSample: 1, jaegerPort: JAEGER_PORT, monitoring: true, prometheusPort: PROMETHEUS_PORT,
    anonRate: '100000r/s', anonBurst: 100000, log,
    appEnv: { TESSERA_LOG_LEVEL: 'warn', TESSERA_DRAIN_MS: '2000', TESSERA_RATE_LIMIT: '1000000' },
  });
  headers = await serviceAuthHeaders(DIR);
}, 600_000);

afterAll(async () => {
  await down({ dir: DIR, purge: true, log });
});

interface JaegerTrace { spans: { spanID: string; operationName: string; tags: { key: string; value: unknown }[]; references: { spanID: string }[] }[] }

describe('a local stack with --tracing and --monitoring', () => {
  it('sends a request through NGINX to Jaeger as one trace with the caller\'s trace id: NGINX\'s request id, the app, the cache tier and the shard query', async () => {
    const base = readStack(DIR).nginx.url;
    const created = await call('POST', '/v1/users', { base, headers, body: { email: `obs-${randomBytes(6).toString('hex')}@example.com`, name: 'Traced' } });
    expect(created.status).toBe(201);
    const traceId = randomBytes(16).toString('hex');
    const res = await call('GET', `/v1/users/${created.body.id}`, { base, headers: { ...headers, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } });
    expect(res.status).toBe(200);
    let trace: JaegerTrace | undefined;
    const found = await eventually(async () => {
      trace = (await json<{ data: JaegerTrace[] }>(`${jaeger}/api/traces/${traceId}`))?.data?.[0];
      return (trace?.spans ?? []).some((s) => s.operationName.startsWith('SELECT'));
    }, 30_000, 250);
    expect(found, JSON.stringify(trace?.spans.map((s) => s.operationName))).toBe(true);
    const spans = trace!.spans;
    const tag = (s: JaegerTrace['spans'][number], key: string) => s.tags.find((t) => t.key === key)?.value;
    const server = spans.find((s) => s.operationName === 'GET /v1/users/:id')!;
    expect(tag(server, 'tessera.request_id')).toBe(res.headers.get('x-request-id'));
    expect(tag(server, 'tessera.app')).toBe(res.headers.get('x-tessera-app'));
    const cache = spans.find((s) => s.operationName.startsWith('cache.read'))!;
    expect(cache.references.map((r) => r.spanID)).toContain(server.spanID);
    expect(tag(cache, 'tessera.cache.tier')).toBe(res.headers.get('x-tessera-cache'));
    const select = spans.find((s) => s.operationName.startsWith('SELECT'))!;
    expect(tag(select, 'db.system.name')).toBe('postgresql');
    expect(tag(select, 'tessera.shard')).toBe(res.headers.get('x-tessera-shard'));
  });

  it('scrapes every app of a scaled stack: after tessera scale --apps 4, four app targets are up, and Redis and PostgreSQL through their exporters', async () => {
    await scale({ dir: DIR, apps: 4, log });
    type Targets = { data: { activeTargets: { labels: { job: string; instance: string }; health: string }[] } };
    let seen: Targets['data']['activeTargets'] = [];
    const ok = await eventually(async () => {
      seen = (await json<Targets>(`${prom}/api/v1/targets?state=active`))?.data.activeTargets ?? [];
      const apps = seen.filter((t) => t.labels.job === 'tessera-app' && t.health === 'up');
      return apps.length === 4 && ['redis', 'postgres'].every((job) => seen.some((t) => t.labels.job === job && t.health === 'up'));
    }, 60_000, 500);
    expect(ok, JSON.stringify(seen)).toBe(true);
    expect(seen.filter((t) => t.labels.job === 'tessera-app').map((t) => t.labels.instance).sort()).toEqual(readStack(DIR).apps.map((a) => `127.0.0.1:${a.port}`).sort());
  });

  it('shows the stack in tessera top --once: every app, the shard and its replica', () => {
    const r = spawnSync(process.execPath, ['bin/tessera.mjs', 'top', '--once', '--dir', DIR], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    for (const app of readStack(DIR).apps) expect(r.stdout).toContain(app.id);
    expect(r.stdout).toMatch(/shard-a\s+up/);
    expect(r.stdout).toContain('shard-a-r1');
  });

  it('traces a planned failover run by the CLI with the OTEL_* variables: one trace, a span per step', async () => {
    const env = { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: readStack(DIR).tracing!.otlpUrl, OTEL_SERVICE_NAME: 'tessera-cli-test' };
    const r = spawnSync(process.execPath, ['bin/tessera.mjs', 'shard', 'failover', 'shard-a', '--dir', DIR], { encoding: 'utf8', timeout: 120_000, env });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    let names: string[] = [];
    const found = await eventually(async () => {
      const traces = (await json<{ data: JaegerTrace[] }>(`${jaeger}/api/traces?service=tessera-cli-test&limit=5`))?.data ?? [];
      // The trace whose root is the failover: its steps are its spans.
      names = traces.find((t) => t.spans.some((x) => x.operationName === 'failover shard-a'))?.spans.map((x) => x.operationName) ?? [];
      return names.includes('failover.rejoin');
    }, 30_000, 250);
    expect(found, names.join(', ')).toBe(true);
    for (const step of ['failover.fence', 'failover.catchup', 'failover.promote', 'failover.repoint', 'failover.publish', 'failover.rejoin']) expect(names).toContain(step);
  });

  it('makes TesseraReplicaUnavailable pending when a replica is stopped (firing after its `for` is promtool\'s test)', async () => {
    const stack = readStack(DIR);
    await stopInstance(await pgContextFor(stack), stack.shards[0]!.replicas[0]!, 'immediate');
    type Alerts = { data: { alerts: { labels: Record<string, string>; state: string }[] } };
    let alerts: Alerts['data']['alerts'] = [];
    const pending = await eventually(async () => {
      alerts = (await json<Alerts>(`${prom}/api/v1/alerts`))?.data.alerts ?? [];
      return alerts.some((a) => a.labels.alertname === 'TesseraReplicaUnavailable' && a.labels.replica === 'shard-a-r1' && ['pending', 'firing'].includes(a.state));
    }, 60_000, 500);
    expect(pending, JSON.stringify(alerts)).toBe(true);
  });
});
