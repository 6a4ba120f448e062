import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus metrics of one app replica, in a registry of its own. */
export function createMetrics(appId: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ app: appId });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'tessera_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'tessera_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['route', 'method'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    mapVersion: new Gauge({ name: 'tessera_shard_map_version', help: 'Shard map version this replica routes with', registers: [registry] }),
    wrongShard: new Counter({
      name: 'tessera_wrong_shard_total',
      help: 'Writes refused by a shard fence (stale map), then re-routed',
      labelNames: ['shard'] as const,
      registers: [registry],
    }),
    shardUp: new Gauge({ name: 'tessera_shard_up', help: 'Whether the shard primary answered the last readiness probe', labelNames: ['shard'] as const, registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
