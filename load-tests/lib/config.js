/**
 * Knobs every scenario shares, read from k6's `__ENV` (`k6 run -e NAME=value`
 * or the environment):
 *
 * - `BASE_URL`: the Tessera front (NGINX). Default http://127.0.0.1:8080.
 * - `AUTH_TOKEN`: a bearer token (JWT) sent as `Authorization: Bearer …` on
 *   every request; required (every /v1 call needs one). `npm run load` mints
 *   one with the local stack's key; elsewhere `npx tessera token --scope
 *   users:read,users:write,users:list`. The apps limit each token's caller;
 *   use a token whose limit fits the rate a scenario asks for.
 * - `RATE` (iterations/s), `DURATION` (`30s`, `5m`), `VUS` (pre-allocated VUs;
 *   past them arrival-rate iterations are dropped and counted), `POOL` (users
 *   read from): per-scenario defaults, overridden here.
 * - `RESULTS_DIR`: where handleSummary writes, relative to k6's working
 *   directory. Default `load-tests/results` (k6 run from the repository root).
 *
 * Defaults are modest: the stack and k6 often share a 2-core machine.
 */

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const AUTH_TOKEN = __ENV.AUTH_TOKEN || '';
export const RESULTS_DIR = (__ENV.RESULTS_DIR || 'load-tests/results').replace(/\/+$/, '');

/**
 * Headers for a request: the bearer token when one is set, and a JSON content
 * type when there is a body (Fastify answers 400 to an empty JSON body, so a
 * DELETE must not claim one).
 */
export function headers(extra, withBody = true) {
  const h = { Accept: 'application/json' };
  if (withBody) h['Content-Type'] = 'application/json';
  if (AUTH_TOKEN !== '') h.Authorization = `Bearer ${AUTH_TOKEN}`;
  return Object.assign(h, extra);
}

/** A positive number from `__ENV[name]`, or `fallback`. Junk throws, so a typo is loud. */
export function num(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

/** A k6 duration (`500ms`, `30s`, `5m`, `1h`) from `__ENV[name]`, or `fallback`. */
export function duration(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  seconds(raw);
  return raw;
}

/** Seconds in a k6 duration such as `1m30s`. Throws on anything else. */
export function seconds(text) {
  const units = { ms: 0.001, s: 1, m: 60, h: 3600 };
  const parts = String(text).match(/(\d+(?:\.\d+)?)(ms|s|m|h)/g);
  if (parts === null || parts.join('') !== String(text)) throw new Error(`not a duration: "${text}"`);
  return parts.reduce((sum, p) => {
    const [, n, unit] = p.match(/^(\d+(?:\.\d+)?)(ms|s|m|h)$/);
    return sum + Number(n) * units[unit];
  }, 0);
}

/**
 * A `dropped_iterations` bound: at most 1% of what the schedule asks for
 * (`iterations`). An arrival-rate run that drops more did not measure the rate it claims.
 */
export function droppedBound(iterations, share = 0.01) {
  return `count<=${Math.max(1, Math.floor(iterations * share))}`;
}

/**
 * Trend stats in the summary: k6's default plus p(99), which every
 * scenario puts a threshold on and the JSON summary should show.
 */
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];
