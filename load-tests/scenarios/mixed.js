/** Mixed: 90% reads, 10% writes over the same Zipf-popular users, at a constant arrival rate. */
import { SUMMARY_TREND_STATS, duration, num } from '../lib/config.js';
import { requireReady } from '../lib/api.js';
import { mixed } from '../lib/ops.js';
import { constantIterations, constantRate, droppedThreshold } from '../lib/stages.js';
import { summaryHandler } from '../lib/summary.js';
import { popularUser, runId, userPool } from '../lib/users.js';

const RATE = num('RATE', 100);
const DURATION = duration('DURATION', '30s');

export const options = {
  scenarios: { mixed: constantRate({ rate: RATE, duration: DURATION, vus: num('VUS', 50) }) },
  thresholds: {
    http_req_duration: ['p(95)<200', 'p(99)<500'],
    'http_req_duration{name:get-user}': ['p(95)<150'],
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
  mixed(popularUser(pool), run);
}

export const handleSummary = summaryHandler('mixed');
