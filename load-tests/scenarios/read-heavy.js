/**
 * Read-heavy: a constant arrival rate of reads (user by id 80%, document
 * 15%, by email 5%) over a seeded user set with Zipf popularity — the shape
 * the cache tiers exist for. Seed a larger set first for realistic misses:
 * `npx tessera seed --users 10000 --docs-per-user 1` and `POOL=10000`.
 */
import { SUMMARY_TREND_STATS, duration, num } from '../lib/config.js';
import { requireReady } from '../lib/api.js';
import { read } from '../lib/ops.js';
import { constantIterations, constantRate, droppedThreshold } from '../lib/stages.js';
import { summaryHandler } from '../lib/summary.js';
import { popularUser, userPool } from '../lib/users.js';

const RATE = num('RATE', 150);
const DURATION = duration('DURATION', '30s');

export const options = {
  scenarios: { reads: constantRate({ rate: RATE, duration: DURATION, vus: num('VUS', 50) }) },
  thresholds: {
    http_req_duration: ['p(95)<150', 'p(99)<400'],
    'http_req_duration{name:get-user}': ['p(95)<100'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    dropped_iterations: droppedThreshold(constantIterations(RATE, DURATION)),
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  requireReady();
  return { pool: userPool(num('POOL', 200)) };
}

export default function ({ pool }) {
  read(popularUser(pool), Math.random());
}

export const handleSummary = summaryHandler('read-heavy');
