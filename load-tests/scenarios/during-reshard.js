/**
 * During reshard: steady writes while a key range moves. Start this, then
 * the reshard in another terminal; give the run enough `DURATION` to cover
 * the copy, the fence and the cutover.
 *
 * Each of `WRITERS` VUs owns one user and writes its probe document every
 * `INTERVAL`, so each VU can time the gaps between its own acknowledged
 * writes without shared state. A gap is tagged with the key range the user
 * lived in when the run began (the shard that acknowledged its first write),
 * so the summary gives the write-unavailability window per range:
 * the longest gap less the normal interval. A range that is still failing at
 * the end counts its open gap too. At its last iteration each VU reads its
 * probe back: an acknowledged write that is gone counts in `lost_writes`,
 * which must stay 0.
 *
 * Not an arrival-rate executor: per-VU ownership of a key is what makes the
 * gap per key measurable; the rate is WRITERS / INTERVAL (32/s by default).
 */
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { SUMMARY_TREND_STATS, duration, num, seconds } from '../lib/config.js';
import { get, header, json, put, requireReady } from '../lib/api.js';
import { stored } from '../lib/checks.js';
import { summaryHandler } from '../lib/summary.js';
import { userPool } from '../lib/users.js';

const WRITERS = num('WRITERS', 16);
const INTERVAL_S = seconds(duration('INTERVAL', '500ms'));
const DURATION = duration('DURATION', '2m');
const MAX_UNAVAILABLE_MS = num('MAX_UNAVAILABLE_MS', 5000);
/** Ranges reported one by one: the shards of the local and compose stacks unless told. */
const RANGES = (__ENV.RANGES || 'shard-a,shard-b').split(',').filter((r) => r !== '');
const PROBE = 'reshard.probe';
const GAP_BOUND = `max<${MAX_UNAVAILABLE_MS + INTERVAL_S * 1000}`;

const writeGap = new Trend('write_gap_ms', true);
const lostWrites = new Counter('lost_writes');

const thresholds = {
  write_gap_ms: [GAP_BOUND],
  lost_writes: ['count==0'],
  http_req_duration: ['p(95)<500', 'p(99)<2000'],
  // Writes to a fenced range may be refused for a moment; they show here, bounded.
  http_req_failed: ['rate<0.05'],
  checks: ['rate>0.95'],
};
// A threshold per range also puts that range's gaps in the summary data.
for (const range of RANGES) thresholds[`write_gap_ms{range:${range}}`] = [GAP_BOUND];

export const options = {
  scenarios: {
    writers: {
      executor: 'per-vu-iterations',
      vus: WRITERS,
      iterations: Math.max(2, Math.ceil(seconds(DURATION) / INTERVAL_S)),
      maxDuration: `${Math.ceil(seconds(DURATION) * 2 + 60)}s`,
    },
  },
  thresholds,
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  requireReady();
  return { users: userPool(WRITERS) };
}

// Per-VU state: this VU's user, its range, when its last write was acknowledged.
let lastOkMs;
let range;
let ackedSeq = -1;

export default function ({ users }) {
  const user = users[(exec.vu.idInTest - 1) % users.length];
  const seq = exec.vu.iterationInScenario;
  const started = Date.now();
  const res = put(`/v1/users/${user.id}/data/${PROBE}`, { seq, at: started }, 'probe-write', { timeout: '5s' });
  const acked = check(res, { 'probe write acknowledged': stored });
  const now = Date.now();
  if (acked) {
    if (range === undefined) range = header(res, 'x-tessera-shard') || 'unknown';
    if (lastOkMs !== undefined) writeGap.add(now - lastOkMs, { range });
    lastOkMs = now;
    ackedSeq = seq;
  }
  if (seq === options.scenarios.writers.iterations - 1) finish(user, now);
  sleep(Math.max(0, INTERVAL_S - (Date.now() - started) / 1000));
}

/** Last iteration: an open gap counts, and the last acknowledged write must be readable. */
function finish(user, now) {
  if (lastOkMs !== undefined && now > lastOkMs) writeGap.add(now - lastOkMs, { range });
  const back = json(get(`/v1/users/${user.id}/data/${PROBE}`, 'probe-read'));
  // A later, unacknowledged write may have landed (timeout after commit): only older is a loss.
  lostWrites.add(ackedSeq >= 0 && (back?.value?.seq ?? -1) < ackedSeq ? 1 : 0);
}

/** The write-unavailability window: the longest gap less the normal interval, overall and per range. */
function unavailability(data) {
  const intervalMs = INTERVAL_S * 1000;
  const windowOf = (metric) => Math.max(0, Math.round((data.metrics[metric]?.values?.max ?? 0) - intervalMs));
  const byRange = {};
  for (const name of Object.keys(data.metrics)) {
    const m = name.match(/^write_gap_ms\{range:(.+)\}$/);
    if (m !== null) byRange[m[1]] = windowOf(name);
  }
  return {
    writeUnavailabilityMs: windowOf('write_gap_ms'),
    byRange,
    normalIntervalMs: intervalMs,
    writers: WRITERS,
    lostWrites: data.metrics.lost_writes?.values?.count ?? 0,
  };
}

export const handleSummary = summaryHandler('during-reshard', unavailability);
