/**
 * Soak: the mixed workload at a moderate rate for a long time (30 min by
 * default) to surface leaks, pool exhaustion and slow drift. The same latency
 * bounds as `mixed` and stricter error bounds, so drift shows as a failed threshold.
 */
import { SUMMARY_TREND_STATS, duration, num } from '../lib/config.js';
import { requireReady } from '../lib/api.js';
import { mixed } from '../lib/ops.js';
import { constantIterations, constantRate, droppedThreshold } from '../lib/stages.js';
import { summaryHandler } from '../lib/summary.js';
import { popularUser, runId, userPool } from '../lib/users.js';

const RATE = num('RATE', 50);
const DURATION = duration('DURATION', '30m');

export const options = {
  scenarios: { soak: constantRate({ rate: RATE, duration: DURATION, vus: num('VUS', 50) }) },
  thresholds: {
    http_req_duration: ['p(95)<200', 'p(99)<500'],
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
    dropped_iterations: droppedThreshold(constantIterations(RATE, DURATION)),
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  requireReady();
  return { pool: userPool(num('POOL', 500)), run: runId() };
}

export default function ({ pool, run }) {
  mixed(popularUser(pool), run);
}

export const handleSummary = summaryHandler('soak');
