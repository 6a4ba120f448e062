/**
 * Per-request HTTP metrics as hot cells (hot-metrics.ts), looked up by one
 * string key: routes, methods and statuses are few, so the maps stay small.
 */
import type { CounterCell, HistogramCell } from './hot-metrics.js';
import type { Metrics } from './metrics.js';

/**
 * Records one finished request: `tessera_http_requests_total` (with the cache
 * tier that answered, `none` when no cache was read) and
 * `tessera_http_request_duration_seconds`.
 */
export function httpMetrics(metrics: Metrics): { record(route: string, method: string, status: number, tier: string, seconds: number): void } {
  const counters = new Map<string, CounterCell<'route' | 'method' | 'status' | 'tier'>>();
  const histograms = new Map<string, HistogramCell<'route' | 'method'>>();
  return {
    record(route, method, status, tier, seconds) {
      const key = `${method} ${route}`;
      const statusKey = `${key} ${status} ${tier}`;
      let counter = counters.get(statusKey);
      if (!counter) {
        counter = metrics.httpRequestCells.cell({ route, method, status, tier });
        counters.set(statusKey, counter);
      }
      counter.inc();
      let histogram = histograms.get(key);
      if (!histogram) {
        histogram = metrics.httpDuration.cell({ route, method });
        histograms.set(key, histogram);
      }
      histogram.observe(seconds);
    },
  };
}
