/**
 * Spike: the mixed workload at a base rate, a sudden jump to `SPIKE`× that
 * rate, a hold, then back. Thresholds are looser than steady state: the
 * question is whether the service stays correct and recovers, not whether it
 * stays fast. NGINX's per-client limit answers 429 past its burst; give the
 * run its own bucket with `AUTH_TOKEN` or raise the limit to measure the app.
 */
import { SUMMARY_TREND_STATS, duration, num } from '../lib/config.js';
import { requireReady } from '../lib/api.js';
import { mixed } from '../lib/ops.js';
import { droppedThreshold, rampingIterations, rampingRate, spikeStages } from '../lib/stages.js';
import { summaryHandler } from '../lib/summary.js';
import { popularUser, runId, userPool } from '../lib/users.js';

const BASE = num('RATE', 30);
const PEAK = BASE * num('SPIKE', 8);
const STAGES = spikeStages(BASE, PEAK, duration('STAGE', '10s'));

export const options = {
  scenarios: { spike: rampingRate({ startRate: BASE, stages: STAGES, vus: num('VUS', 100) }) },
  thresholds: {
    http_req_duration: ['p(95)<500', 'p(99)<1500'],
    http_req_failed: ['rate<0.02'],
    checks: ['rate>0.98'],
    // A spike may outrun VU allocation for a moment: 5%, not 1%.
    dropped_iterations: droppedThreshold(rampingIterations(BASE, STAGES), 0.05),
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

export const handleSummary = summaryHandler('spike');
