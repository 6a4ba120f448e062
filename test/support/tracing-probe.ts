// Builds an app replica the way server.ts does (tracing from the OTEL_*
// variables first), serves one request, and prints what tracing loaded and
// installed: the unit test runs it in a fresh process with tracing off and on.
import { createRequire } from 'node:module';
import { buildApp, type ApiDeps } from '../../src/api/app.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { startTracing } from '../../src/observability/tracing.js';

const handle = await startTracing({ instanceId: 'probe' });
const app = await buildApp({
  users: {} as ApiDeps['users'],
  documents: {} as ApiDeps['documents'],
  probe: { draining: () => false, check: async () => ({ ready: true, detail: {} }) },
  metrics: createMetrics('probe'),
  limits: { maxDocBytes: 65536, maxProfileBytes: 16384 },
});
const res = await app.inject({ method: 'GET', url: '/healthz' });
const sdkModules = Object.keys(createRequire(import.meta.url).cache).filter((k) => /@opentelemetry[\\/](sdk-trace|exporter|resources|context-async-hooks|otlp)/.test(k));
console.log(JSON.stringify({ tracing: handle !== undefined, requestHooks: app.hasRequestDecorator('otel'), sdkModules: sdkModules.length, status: res.statusCode }));
await app.close();
await handle?.shutdown();
