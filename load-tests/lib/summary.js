/**
 * `handleSummary` for every scenario: the full k6 summary data as JSON in
 * `RESULTS_DIR/<scenario>-summary.json` (plus a `tessera` block with the
 * target and any scenario-specific numbers), and a short text summary on
 * stdout. Written here rather than imported from jslib so runs need no network.
 */
import { BASE_URL, RESULTS_DIR } from './config.js';

/**
 * Returns a `handleSummary(data)` for `scenario`. `extra(data)` may add
 * scenario-specific results (during-reshard's unavailability window); they go
 * into the JSON under `tessera` and into the text summary.
 */
export function summaryHandler(scenario, extra = () => ({})) {
  return (data) => {
    const results = extra(data);
    const report = Object.assign({ tessera: { scenario, baseUrl: BASE_URL, finishedAt: new Date().toISOString(), results } }, data);
    return {
      [`${RESULTS_DIR}/${scenario}-summary.json`]: JSON.stringify(report, null, 2),
      stdout: textSummary(scenario, data, results),
    };
  };
}

/** Thresholds of the run as `{ metric, expression, ok }`. */
export function thresholdResults(data) {
  const out = [];
  for (const [metric, m] of Object.entries(data.metrics || {})) {
    for (const [expression, t] of Object.entries(m.thresholds || {})) out.push({ metric, expression, ok: t.ok });
  }
  return out;
}

const ms = (v) => (typeof v === 'number' ? `${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms` : '-');
const pct = (v) => (typeof v === 'number' ? `${(v * 100).toFixed(2)}%` : '-');

/** A dozen lines: volume, latency, failures, checks, drops, then each threshold. */
export function textSummary(scenario, data, results = {}) {
  const v = (name) => (data.metrics && data.metrics[name] ? data.metrics[name].values : {});
  const thresholds = thresholdResults(data);
  const failed = thresholds.filter((t) => !t.ok).length;
  const reqs = v('http_reqs');
  const dur = v('http_req_duration');
  const checks = v('checks');
  const lines = [
    '',
    `${scenario}: ${failed === 0 ? `all ${thresholds.length} thresholds passed` : `${failed} of ${thresholds.length} thresholds FAILED`}`,
    `  requests    ${reqs.count ?? 0} (${(reqs.rate ?? 0).toFixed(1)}/s), failed ${pct(v('http_req_failed').rate)}`,
    `  latency     avg ${ms(dur.avg)}  p95 ${ms(dur['p(95)'])}  p99 ${ms(dur['p(99)'])}  max ${ms(dur.max)}`,
    `  checks      ${pct(checks.rate)} (${checks.passes ?? 0} passed, ${checks.fails ?? 0} failed)`,
  ];
  if (data.metrics && data.metrics.dropped_iterations) lines.push(`  dropped     ${v('dropped_iterations').count} iterations`);
  for (const [key, value] of Object.entries(results)) lines.push(`  ${key.padEnd(11)} ${typeof value === 'object' ? JSON.stringify(value) : value}`);
  lines.push('  thresholds');
  for (const t of thresholds) lines.push(`    ${t.ok ? 'ok  ' : 'FAIL'} ${t.metric}: ${t.expression}`);
  lines.push('');
  return lines.join('\n');
}
