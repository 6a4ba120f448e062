/**
 * How each Tessera case runs: which app settings force the tier it measures,
 * direct to app-1 or through NGINX, over how many replicas, with what
 * requests. Ordered so that settings change as rarely as possible.
 *
 * Forcing a tier without touching the code, only through documented settings:
 * - l1: L1 big enough for every seeded user and a 1 h TTL, after one sweep over
 *   all users per replica; every read is then an L1 hit.
 * - l2: TESSERA_L1_MAX_BYTES=0 makes every entry larger than L1's byte bound,
 *   so L1 stores nothing; L2 (1 h TTL) holds every user from an earlier sweep.
 * - miss: L1 off as above, Redis flushed, TESSERA_L2_TTL_MS=1 so each fill
 *   expires within a millisecond: every read does the L2 GET, finds nothing,
 *   reads a replica and fills L2 (the whole miss path).
 * - default: no overrides (50,000-entry L1 with a 5 s TTL, 5 min L2): tiers as
 *   they fall under the Zipf load; also the settings of the write cases.
 */
import type { CaseId } from './cases.js';
import { OTLP_SINK_URL } from './otlp-sink.js';

export type AppConfig = 'l1' | 'l1-open' | 'l1-trace-1' | 'l1-trace-100' | 'l2' | 'miss' | 'default';

/** Settings that serve reads from L1: app-1 is swept full before their cases. */
export const L1_CONFIGS: ReadonlySet<AppConfig> = new Set(['l1', 'l1-open', 'l1-trace-1', 'l1-trace-100']);
export type WorkloadKind = 'get' | 'create' | 'put';

export interface Plan {
  id: CaseId;
  config: AppConfig;
  /** The shards' durability for the case. @default `sync` (as shipped) */
  durability?: 'sync' | 'async';
  via: 'direct' | 'nginx';
  apps: 1 | 2 | 4;
  workload: WorkloadKind;
  /** Shards of the stack it runs on. @default 2 (the bench stack's) */
  shards?: 2 | 3;
}

export const PLANS: readonly Plan[] = [
  // Authentication and per-caller limits off, then on, back to back: what they cost an L1 hit.
  { id: 'get-l1-open', config: 'l1-open', via: 'direct', apps: 1, workload: 'get' },
  { id: 'get-l1-auth', config: 'l1', via: 'direct', apps: 1, workload: 'get' },
  // Tracing (OTLP to a sink that keeps nothing) at 1% and at 100%, against the same case with tracing off (get-l1-auth).
  { id: 'get-l1-trace-1pct', config: 'l1-trace-1', via: 'direct', apps: 1, workload: 'get' },
  { id: 'get-l1-trace-100pct', config: 'l1-trace-100', via: 'direct', apps: 1, workload: 'get' },
  { id: 'get-l1', config: 'l1', via: 'direct', apps: 1, workload: 'get' },
  { id: 'get-l1-nginx', config: 'l1', via: 'nginx', apps: 1, workload: 'get' },
  { id: 'get-l1-nginx-2apps', config: 'l1', via: 'nginx', apps: 2, workload: 'get' },
  { id: 'get-l1-nginx-4apps', config: 'l1', via: 'nginx', apps: 4, workload: 'get' },
  { id: 'get-l2', config: 'l2', via: 'direct', apps: 1, workload: 'get' },
  { id: 'get-l2-nginx', config: 'l2', via: 'nginx', apps: 1, workload: 'get' },
  { id: 'get-miss', config: 'miss', via: 'direct', apps: 1, workload: 'get' },
  { id: 'get-miss-nginx', config: 'miss', via: 'nginx', apps: 1, workload: 'get' },
  { id: 'get-default', config: 'default', via: 'direct', apps: 1, workload: 'get' },
  { id: 'create', config: 'default', via: 'direct', apps: 1, workload: 'create' },
  { id: 'create-nginx', config: 'default', via: 'nginx', apps: 1, workload: 'create' },
  { id: 'put-doc', config: 'default', via: 'direct', apps: 1, workload: 'put' },
  { id: 'put-doc-nginx', config: 'default', via: 'nginx', apps: 1, workload: 'put' },
  { id: 'create-async', config: 'default', via: 'direct', apps: 1, workload: 'create', durability: 'async' },
  { id: 'put-doc-async', config: 'default', via: 'direct', apps: 1, workload: 'put', durability: 'async' },
  // Last, on a stack brought up again with three shards (see runner.ts).
  { id: 'create-3shards', config: 'default', via: 'direct', apps: 1, workload: 'create', shards: 3 },
  { id: 'put-doc-3shards', config: 'default', via: 'direct', apps: 1, workload: 'put', shards: 3 },
];

export function planOf(id: CaseId): Plan | undefined {
  return PLANS.find((p) => p.id === id);
}

const HOUR_MS = String(3_600_000);

/** The app environment of a setting, for `users` seeded users. */
export function appEnvFor(config: AppConfig, users: number): Record<string, string> {
  switch (config) {
    case 'l1':
      return {
        TESSERA_L1_TTL_MS: HOUR_MS,
        TESSERA_L1_MAX_ENTRIES: String(Math.max(50_000, Math.ceil(users * 1.2))),
        TESSERA_L1_MAX_BYTES: String(256 * 1024 * 1024),
        TESSERA_L2_TTL_MS: HOUR_MS,
      };
    case 'l1-open':
      // As `l1`, without authentication (and so without per-caller limits): the reference for their cost.
      return { ...appEnvFor('l1', users), TESSERA_AUTH: 'off' };
    case 'l1-trace-1':
    case 'l1-trace-100':
      // As `l1`, tracing through the standard variables; new traces sampled at 1% or 100%.
      return {
        ...appEnvFor('l1', users),
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_SINK_URL,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: config === 'l1-trace-1' ? '0.01' : '1',
      };
    case 'l2':
      return { TESSERA_L1_MAX_BYTES: '0', TESSERA_L2_TTL_MS: HOUR_MS };
    case 'miss':
      return { TESSERA_L1_MAX_BYTES: '0', TESSERA_L2_TTL_MS: '1' };
    case 'default':
      return {};
  }
}
