/**
 * Write-heavy: creates (each one also claims an email on its shard), renames
 * and document puts at a constant arrival rate, over Zipf-popular users so
 * hot rows see concurrent writes.
 */
import { SUMMARY_TREND_STATS, duration, num } from '../lib/config.js';
import { requireReady } from '../lib/api.js';
import { write } from '../lib/ops.js';
import { constantIterations, constantRate, droppedThreshold } from '../lib/stages.js';
import { summaryHandler } from '../lib/summary.js';
import { popularUser, runId, userPool } from '../lib/users.js';

const RATE = num('RATE', 40);
const DURATION = duration('DURATION', '30s');

export const options = {
  scenarios: { writes: constantRate({ rate: RATE, duration: DURATION, vus: num('VUS', 50) }) },
  thresholds: {
    http_req_duration: ['p(95)<300', 'p(99)<800'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    dropped_iterations: droppedThreshold(constantIterations(RATE, DURATION)),
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  requireReady();
  return { pool: userPool(num('POOL', 200)), run: runId() };
}

export default function ({ pool, run }) {
  write(popularUser(pool), Math.random(), run);
}

export const handleSummary = summaryHandler('write-heavy');
