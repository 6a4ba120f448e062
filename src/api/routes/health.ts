import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Metrics } from '../../observability/metrics.js';
import { EDGE_HEADER } from '../plugins/edge.js';

/** What readiness needs from the runtime. */
export interface ReadinessProbe {
  /** Checks the catalog and every shard primary; the map must be loaded. */
  check(): Promise<{ ready: boolean; detail: Record<string, unknown> }>;
  /** Whether the process is draining (SIGTERM received). */
  draining(): boolean;
}

/** `/healthz`, `/readyz`, `/metrics`. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ probe: ReadinessProbe; metrics: Metrics }> = async (app, { probe, metrics }) => {
  app.get('/healthz', { schema: { operationId: 'healthz', tags: ['ops'], summary: 'The process is alive', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  // Both answers documented (a 503 is a normal answer here); the body is open-ended, so nothing is stripped from it.
  const readiness = (description: string) => ({ description, type: 'object', properties: { status: { type: 'string' } }, required: ['status'], additionalProperties: true });
  const readyzSchema = {
    operationId: 'readyz',
    tags: ['ops'],
    summary: 'Catalog and every shard primary reachable, shard map loaded',
    response: { 200: readiness('Ready'), 503: readiness('Not ready, or draining') },
  };
  app.get('/readyz', { schema: readyzSchema }, async (req, reply) => {
    if (probe.draining()) return reply.code(503).send({ status: 'draining' });
    const { ready, detail } = await probe.check();
    // Through NGINX only ready or not: the topology (shards, replicas, lag) is for operators on the app port.
    if (req.headers[EDGE_HEADER] !== undefined) return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready' });
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', ...detail });
  });

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics', hide: true } }, async (_req, reply) => {
    for (const refresh of metrics.beforeScrape) refresh();
    // Catalog and shard probes, each bounded: a scrape never waits on a dead server past its own timeout.
    await Promise.all(metrics.beforeScrapeAsync.map((refresh) => refresh().catch(() => undefined)));
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
};
