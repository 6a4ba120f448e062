/**
 * Per-request HTTP metrics with their label-bound children cached: prom-client
 * builds and hashes a label string on every `inc({…})`/`observe({…}, v)`,
 * which costs as much as serving an L1 hit's headers. Routes, methods and
 * statuses are few, so the caches stay small.
 */
import type { Metrics } from './metrics.js';

type CounterChild = ReturnType<Metrics['httpRequests']['labels']>;
type HistogramChild = ReturnType<Metrics['httpDuration']['labels']>;

/**
 * Records one finished request: `tessera_http_requests_total` (with the cache
 * tier that answered, `none` when no cache was read) and
 * `tessera_http_request_duration_seconds`.
 */
export function httpMetrics(metrics: Metrics): { record(route: string, method: string, status: number, tier: string, seconds: number): void } {
  const counters = new Map<string, CounterChild>();
  const histograms = new Map<string, HistogramChild>();
  return {
    record(route, method, status, tier, seconds) {
      const key = `${method} ${route}`;
      const statusKey = `${key} ${status} ${tier}`;
      let counter = counters.get(statusKey);
      if (!counter) {
        counter = metrics.httpRequests.labels({ route, method, status, tier });
        counters.set(statusKey, counter);
      }
      counter.inc();
      let histogram = histograms.get(key);
      if (!histogram) {
        histogram = metrics.httpDuration.labels({ route, method });
        histograms.set(key, histogram);
      }
      histogram.observe(seconds);
    },
  };
}
