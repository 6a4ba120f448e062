import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CounterCells, HotHistogram } from './hot-metrics.js';

/** The Prometheus metrics of one app replica, in a registry of its own. */
export function createMetrics(appId: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ app: appId });
  // Counted per request as plain numbers (hot-metrics.ts), handed over at scrape time.
  const httpRequestCells = new CounterCells<'route' | 'method' | 'status' | 'tier'>();
  const cacheRequestCells = new CounterCells<'tier' | 'result'>();
  const readCells = new CounterCells<'source'>();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    /** Run before each scrape, to set gauges that are read off other objects. */
    beforeScrape: [] as (() => void)[],
    /** Async refreshes before each scrape (catalog and shard probes); each is bounded by the scrape route. */
    beforeScrapeAsync: [] as (() => Promise<void>)[],
    httpRequestCells,
    httpRequests: new Counter({
      name: 'tessera_http_requests_total',
      help: 'HTTP requests by route, method, status and the cache tier that answered (l1, l2, miss; none for requests that read no cache)',
      labelNames: ['route', 'method', 'status', 'tier'] as const,
      registers: [registry],
      collect() {
        httpRequestCells.flushInto(this);
      },
    }),
    httpDuration: new HotHistogram<'route' | 'method'>({
      name: 'tessera_http_request_duration_seconds',
      help: 'HTTP request duration by route',
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
    cacheRequestCells,
    cacheRequests: new Counter({
      name: 'tessera_cache_requests_total',
      help: 'Cache look-ups by tier and result',
      labelNames: ['tier', 'result'] as const,
      registers: [registry],
      collect() {
        cacheRequestCells.flushInto(this);
      },
    }),
    readCells,
    reads: new Counter({
      name: 'tessera_reads_total',
      help: 'Reads by the source that served them (l1, l2, replica, primary)',
      labelNames: ['source'] as const,
      registers: [registry],
      collect() {
        readCells.flushInto(this);
      },
    }),
    fillsRejected: new Counter({
      name: 'tessera_cache_fills_rejected_total',
      help: 'Cache fills refused because the tier held a newer version',
      labelNames: ['tier'] as const,
      registers: [registry],
    }),
    invalidationsSent: new Counter({ name: 'tessera_cache_invalidations_sent_total', help: 'Invalidations published', registers: [registry] }),
    invalidationsReceived: new Counter({
      name: 'tessera_cache_invalidations_received_total',
      help: 'Invalidations applied from other replicas',
      registers: [registry],
    }),
    redisUp: new Gauge({ name: 'tessera_redis_up', help: 'Whether Redis (L2, invalidations) is reachable', registers: [registry] }),
    l1Entries: new Gauge({ name: 'tessera_l1_entries', help: 'Entries in the in-process cache', registers: [registry] }),
    replicaLagSeconds: new Gauge({
      name: 'tessera_replica_lag_seconds',
      help: 'How long each read replica has been behind its primary (0 when caught up)',
      labelNames: ['shard', 'replica'] as const,
      registers: [registry],
    }),
    replicaLagBytes: new Gauge({
      name: 'tessera_replica_lag_bytes',
      help: 'WAL bytes each read replica has not replayed',
      labelNames: ['shard', 'replica'] as const,
      registers: [registry],
    }),
    shardOps: new Counter({
      name: 'tessera_shard_operations_total',
      help: 'Units of work sent to each shard (a transaction, a read, a statement), by the role that served them: primary or replica',
      labelNames: ['shard', 'role'] as const,
      registers: [registry],
    }),
    replicaUp: new Gauge({
      name: 'tessera_replica_up',
      help: 'Whether each read replica answered its last lag probe as a standby (1) or not (0)',
      labelNames: ['shard', 'replica'] as const,
      registers: [registry],
    }),
    replicaMaxLagSeconds: new Gauge({
      name: 'tessera_replica_max_lag_seconds',
      help: 'The lag past which a replica serves no reads (TESSERA_REPLICA_MAX_LAG_MS)',
      registers: [registry],
    }),
    shardUp: new Gauge({
      name: 'tessera_shard_up',
      help: 'Whether the shard primary answered the last probe (at each scrape and each readiness check) as a writable primary',
      labelNames: ['shard'] as const,
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: 'tessera_shard_breaker_state',
      help: 'Circuit breaker of each shard primary: 0 closed (serving), 1 half-open (a trial may pass), 2 open (failing fast)',
      labelNames: ['shard'] as const,
      registers: [registry],
    }),
    shardEpoch: new Gauge({ name: 'tessera_shard_epoch', help: 'Epoch of each shard (every failover bumps it), as this replica knows it', labelNames: ['shard'] as const, registers: [registry] }),
    shardState: new Gauge({
      name: 'tessera_shard_state',
      help: 'Whether each shard is serving, switching (planned failover: writes wait) or electing (emergency failover: writes fail fast), one-hot',
      labelNames: ['shard', 'state'] as const,
      registers: [registry],
    }),
    failovers: new Gauge({
      name: 'tessera_shard_failovers',
      help: 'Failovers recorded in the catalog per shard, kind and result (done, failed, running); a count that only grows',
      labelNames: ['shard', 'kind', 'result'] as const,
      registers: [registry],
    }),
    failoverWritePause: new Gauge({
      name: 'tessera_shard_failover_write_pause_seconds',
      help: 'How long writes to the shard waited in its last planned failover (fence to publish)',
      labelNames: ['shard'] as const,
      registers: [registry],
    }),
    reshardPhase: new Gauge({
      name: 'tessera_reshard_phase',
      help: 'Phase of each resharding workflow that is running or finished within a day, one-hot',
      labelNames: ['workflow', 'source', 'target', 'range', 'phase'] as const,
      registers: [registry],
    }),
    reshardRowsCopied: new Gauge({ name: 'tessera_reshard_rows_copied', help: 'Rows a resharding workflow has copied', labelNames: ['workflow'] as const, registers: [registry] }),
    reshardRowsTotal: new Gauge({ name: 'tessera_reshard_rows_total', help: 'Rows a resharding workflow planned to copy', labelNames: ['workflow'] as const, registers: [registry] }),
    reshardCutoverWindow: new Gauge({
      name: 'tessera_reshard_cutover_window_seconds',
      help: 'How long writes to the moving range waited in the workflow\'s cutover (fence to map published)',
      labelNames: ['workflow'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
