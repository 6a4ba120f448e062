/**
 * What `tessera top` shows, computed from two scrapes of every app (pure):
 * requests/s, 5xx/s and p99 of the API routes, hit ratios of each cache
 * tier, and per shard the work each role served, the primary's health and
 * each replica's lag. Rates are the difference between the scrapes over
 * the time between them, as Prometheus's `rate()` would give.
 */
import { sumOf, type Sample } from './prom-text.js';

/** One scrape of every app. */
export interface Snapshot {
  at: number;
  apps: { id: string; samples: Sample[] | null; error?: string }[];
}

/** One app's line. */
export interface AppRow {
  id: string;
  up: boolean;
  error?: string;
  rps: number;
  errorsPerS: number;
  p99Ms: number | null;
  l1HitRatio: number | null;
  l2HitRatio: number | null;
  mapVersion: number | null;
  /** Shards whose breaker is not closed on this app. */
  breakers: string[];
}

/** One shard's line (over every app). */
export interface ShardRow {
  shard: string;
  primaryUp: boolean | null;
  primaryOpsPerS: number;
  replicaOpsPerS: number;
  replicas: { name: string; up: boolean; lagS: number | null }[];
  state: string;
}

/** A whole frame. */
export interface Frame {
  at: number;
  seconds: number;
  total: { rps: number; errorsPerS: number; p99Ms: number | null; l1HitRatio: number | null; l2HitRatio: number | null; tierShares: Record<string, number> };
  apps: AppRow[];
  shards: ShardRow[];
}

const isApi = (s: Sample) => (s.labels.route ?? '').startsWith('/v1');

function delta(prev: Sample[] | null | undefined, cur: Sample[], name: string, filter: (s: Sample) => boolean = () => true): number {
  const sum = (list: Sample[]) => list.filter((s) => s.name === name && filter(s)).reduce((a, s) => a + s.value, 0);
  const d = sum(cur) - (prev ? sum(prev) : 0);
  // A restarted app starts its counters again: count what it has since.
  return d >= 0 ? d : sum(cur);
}

/** The 99th percentile (ms) of the requests between two scrapes, from the histogram's buckets. */
function p99(curs: Sample[][], prevs: (Sample[] | null | undefined)[]): number | null {
  const buckets = new Map<number, number>();
  curs.forEach((cur, i) => {
    const before = prevs[i];
    for (const s of cur) {
      if (s.name !== 'tessera_http_request_duration_seconds_bucket' || !isApi(s)) continue;
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      const old = before?.find((b) => b.name === s.name && b.labels.le === s.labels.le && b.labels.route === s.labels.route && b.labels.method === s.labels.method)?.value ?? 0;
      buckets.set(le, (buckets.get(le) ?? 0) + Math.max(0, s.value - old));
    }
  });
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const rank = 0.99 * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return lowerLe * 1000;
      // Linear inside the bucket, as histogram_quantile() does.
      const within = count - lowerCount;
      return (lowerLe + (le - lowerLe) * (within > 0 ? (rank - lowerCount) / within : 1)) * 1000;
    }
    lowerLe = le;
    lowerCount = count;
  }
  return null;
}

function ratio(hits: number, all: number): number | null {
  return all > 0 ? hits / all : null;
}

/** Computes a frame from the previous and the current snapshot. */
export function computeFrame(prev: Snapshot, cur: Snapshot): Frame {
  const seconds = Math.max(0.001, (cur.at - prev.at) / 1000);
  const prevOf = (id: string) => prev.apps.find((a) => a.id === id)?.samples;
  const apps: AppRow[] = cur.apps.map((a) => {
    if (!a.samples) return { id: a.id, up: false, ...(a.error && { error: a.error }), rps: 0, errorsPerS: 0, p99Ms: null, l1HitRatio: null, l2HitRatio: null, mapVersion: null, breakers: [] };
    const before = prevOf(a.id);
    const cache = (tier: string, result: string) => delta(before, a.samples!, 'tessera_cache_requests_total', (s) => s.labels.tier === tier && s.labels.result === result);
    return {
      id: a.id,
      up: true,
      rps: delta(before, a.samples, 'tessera_http_requests_total', isApi) / seconds,
      errorsPerS: delta(before, a.samples, 'tessera_http_requests_total', (s) => isApi(s) && (s.labels.status ?? '').startsWith('5')) / seconds,
      p99Ms: p99([a.samples], [before]),
      l1HitRatio: ratio(cache('l1', 'hit'), cache('l1', 'hit') + cache('l1', 'miss')),
      l2HitRatio: ratio(cache('l2', 'hit'), cache('l2', 'hit') + cache('l2', 'miss')),
      mapVersion: a.samples.some((s) => s.name === 'tessera_shard_map_version') ? sumOf(a.samples, 'tessera_shard_map_version') : null,
      breakers: a.samples.filter((s) => s.name === 'tessera_shard_breaker_state' && s.value > 0).map((s) => `${s.labels.shard}:${s.value === 2 ? 'open' : 'half-open'}`),
    };
  });
  const live = cur.apps.filter((a) => a.samples);
  const sumDelta = (name: string, filter: (s: Sample) => boolean) => live.reduce((acc, a) => acc + delta(prevOf(a.id), a.samples!, name, filter), 0);
  const cacheAll = (tier: string, result: string) => sumDelta('tessera_cache_requests_total', (s) => s.labels.tier === tier && s.labels.result === result);
  const tiers = ['l1', 'l2', 'miss', 'none'];
  const byTier = Object.fromEntries(tiers.map((t) => [t, sumDelta('tessera_http_requests_total', (s) => isApi(s) && s.labels.tier === t)]));
  const allRequests = Object.values(byTier).reduce((a, b) => a + b, 0);

  const shardNames = new Set<string>();
  for (const a of live) for (const s of a.samples!) if (s.labels.shard && s.name.startsWith('tessera_')) shardNames.add(s.labels.shard);
  const shards: ShardRow[] = [...shardNames].sort().map((shard) => {
    const ofShard = (s: Sample) => s.labels.shard === shard;
    const ups = live.flatMap((a) => a.samples!.filter((s) => s.name === 'tessera_shard_up' && ofShard(s)).map((s) => s.value));
    const replicaNames = new Set(live.flatMap((a) => a.samples!.filter((s) => s.name === 'tessera_replica_up' && ofShard(s)).map((s) => s.labels.replica!)));
    const replicas = [...replicaNames].sort().map((name) => {
      const values = (metric: string) => live.flatMap((a) => a.samples!.filter((s) => s.name === metric && s.labels.replica === name).map((s) => s.value));
      const lags = values('tessera_replica_lag_seconds').filter((v) => v >= 0);
      return { name, up: values('tessera_replica_up').some((v) => v === 1), lagS: lags.length > 0 ? Math.max(...lags) : null };
    });
    const states = live.flatMap((a) => a.samples!.filter((s) => s.name === 'tessera_shard_state' && ofShard(s) && s.value === 1).map((s) => s.labels.state!));
    return {
      shard,
      primaryUp: ups.length > 0 ? ups.some((v) => v === 1) : null,
      primaryOpsPerS: sumDelta('tessera_shard_operations_total', (s) => ofShard(s) && s.labels.role === 'primary') / seconds,
      replicaOpsPerS: sumDelta('tessera_shard_operations_total', (s) => ofShard(s) && s.labels.role === 'replica') / seconds,
      replicas,
      state: states.find((s) => s !== 'serving') ?? states[0] ?? 'serving',
    };
  });

  return {
    at: cur.at,
    seconds,
    total: {
      rps: apps.reduce((a, r) => a + r.rps, 0),
      errorsPerS: apps.reduce((a, r) => a + r.errorsPerS, 0),
      p99Ms: p99(live.map((a) => a.samples!), live.map((a) => prevOf(a.id))),
      l1HitRatio: ratio(cacheAll('l1', 'hit'), cacheAll('l1', 'hit') + cacheAll('l1', 'miss')),
      l2HitRatio: ratio(cacheAll('l2', 'hit'), cacheAll('l2', 'hit') + cacheAll('l2', 'miss')),
      tierShares: Object.fromEntries(tiers.map((t) => [t, allRequests > 0 ? byTier[t]! / allRequests : 0])),
    },
    apps,
    shards,
  };
}

const pct = (r: number | null) => (r === null ? '    –' : `${(r * 100).toFixed(1).padStart(5)}%`);
const ms = (v: number | null) => (v === null ? '      –' : `${v.toFixed(1).padStart(6)}ms`);
const num = (v: number, w = 8) => v.toFixed(1).padStart(w);

/** The frame as text for a terminal (`width` columns at most). */
export function renderFrame(f: Frame, title: string, width = 120): string {
  const t = f.total;
  const lines = [
    `${title} — ${new Date(f.at).toISOString().slice(11, 19)} UTC, rates over ${f.seconds.toFixed(1)} s`,
    '',
    `requests ${num(t.rps, 9)}/s   5xx ${num(t.errorsPerS, 6)}/s   p99 ${ms(t.p99Ms)}   hit ratio  L1 ${pct(t.l1HitRatio)}  L2 ${pct(t.l2HitRatio)}`,
    `answered by   l1 ${pct(t.tierShares.l1 ?? 0)}   l2 ${pct(t.tierShares.l2 ?? 0)}   miss (database) ${pct(t.tierShares.miss ?? 0)}   no cache (writes, lists) ${pct(t.tierShares.none ?? 0)}`,
    '',
    `${'APP'.padEnd(14)}${'REQ/S'.padStart(9)}${'5XX/S'.padStart(8)}${'P99'.padStart(9)}${'L1 HIT'.padStart(8)}${'L2 HIT'.padStart(8)}  ${'MAP'.padEnd(5)} BREAKERS`,
    ...f.apps.map((a) => a.up
      ? `${a.id.padEnd(14)}${num(a.rps, 9)}${num(a.errorsPerS, 8)}${ms(a.p99Ms).padStart(9)}${pct(a.l1HitRatio).padStart(8)}${pct(a.l2HitRatio).padStart(8)}  ${(a.mapVersion === null ? '–' : `v${a.mapVersion}`).padEnd(5)} ${a.breakers.join(' ') || 'closed'}`
      : `${a.id.padEnd(14)} DOWN ${a.error ?? ''}`),
    '',
    `${'SHARD'.padEnd(14)}${'PRIMARY'.padEnd(9)}${'PRIMARY OPS/S'.padStart(14)}${'REPLICA OPS/S'.padStart(14)}  ${'STATE'.padEnd(10)} REPLICA LAG`,
    ...f.shards.map((s) => `${s.shard.padEnd(14)}${(s.primaryUp === null ? '?' : s.primaryUp ? 'up' : 'DOWN').padEnd(9)}${num(s.primaryOpsPerS, 14)}${num(s.replicaOpsPerS, 14)}  ${s.state.padEnd(10)} ${
      s.replicas.map((r) => `${r.name} ${r.up ? (r.lagS === null ? '?' : `${r.lagS.toFixed(2)}s`) : 'DOWN'}`).join('  ') || '(no replicas)'}`),
  ];
  return lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n');
}
