/** `tessera top`'s arithmetic: rates, p99 and hit ratios between two scrapes of the apps' metrics. */
import { describe, expect, it } from 'vitest';
import { computeFrame, renderFrame, type Snapshot } from '../../src/top/frame.js';
import { parsePromText } from '../../src/top/prom-text.js';

const route = 'route="/v1/users/:id",method="GET"';
function text(n: { l1: number; miss: number; err: number; fast: number; slow: number; hits: number; misses: number; primaryOps: number; lag: number; replicaUp: number }): string {
  return [
    '# HELP tessera_http_requests_total x',
    `tessera_http_requests_total{${route},status="200",tier="l1",app="app-1"} ${n.l1}`,
    `tessera_http_requests_total{${route},status="200",tier="miss",app="app-1"} ${n.miss}`,
    `tessera_http_requests_total{${route},status="503",tier="none",app="app-1"} ${n.err}`,
    `tessera_http_requests_total{route="/metrics",method="GET",status="200",tier="none",app="app-1"} 1000`,
    `tessera_http_request_duration_seconds_bucket{le="0.001",${route},app="app-1"} ${n.fast}`,
    `tessera_http_request_duration_seconds_bucket{le="0.01",${route},app="app-1"} ${n.fast}`,
    `tessera_http_request_duration_seconds_bucket{le="0.1",${route},app="app-1"} ${n.fast + n.slow}`,
    `tessera_http_request_duration_seconds_bucket{le="+Inf",${route},app="app-1"} ${n.fast + n.slow}`,
    `tessera_cache_requests_total{tier="l1",result="hit",app="app-1"} ${n.hits}`,
    `tessera_cache_requests_total{tier="l1",result="miss",app="app-1"} ${n.misses}`,
    'tessera_shard_map_version{app="app-1"} 3',
    'tessera_shard_breaker_state{shard="shard-a",app="app-1"} 0',
    'tessera_shard_breaker_state{shard="shard-b",app="app-1"} 2',
    'tessera_shard_up{shard="shard-a",app="app-1"} 1',
    `tessera_shard_operations_total{shard="shard-a",role="primary",app="app-1"} ${n.primaryOps}`,
    `tessera_replica_up{shard="shard-a",replica="shard-a-r1",app="app-1"} ${n.replicaUp}`,
    `tessera_replica_lag_seconds{shard="shard-a",replica="shard-a-r1",app="app-1"} ${n.lag}`,
    'tessera_shard_state{shard="shard-a",state="serving",app="app-1"} 1',
  ].join('\n');
}

describe('tessera top', () => {
  const before: Snapshot = { at: 0, apps: [{ id: 'app-1', samples: parsePromText(text({ l1: 100, miss: 0, err: 0, fast: 100, slow: 0, hits: 100, misses: 0, primaryOps: 0, lag: 0, replicaUp: 1 })) }, { id: 'app-2', samples: null, error: 'ECONNREFUSED' }] };
  const after: Snapshot = { at: 2000, apps: [{ id: 'app-1', samples: parsePromText(text({ l1: 1100, miss: 180, err: 20, fast: 1100, slow: 200, hits: 1100, misses: 400, primaryOps: 50, lag: 0.25, replicaUp: 1 })) }, { id: 'app-2', samples: null, error: 'ECONNREFUSED' }] };

  it('turns two scrapes into rates of the API routes only (not /metrics), p99 from the histogram, and hit ratios', () => {
    const f = computeFrame(before, after);
    expect(f.total.rps).toBeCloseTo((1000 + 180 + 20) / 2);
    expect(f.total.errorsPerS).toBeCloseTo(10);
    // 1,200 requests between the scrapes, 200 of them between 10 ms and 100 ms: the 99th is in that bucket.
    expect(f.total.p99Ms).toBeGreaterThan(10);
    expect(f.total.p99Ms).toBeLessThanOrEqual(100);
    expect(f.total.l1HitRatio).toBeCloseTo(1000 / 1400);
    expect(f.total.tierShares.l1).toBeCloseTo(1000 / 1200);
    expect(f.apps[0]).toMatchObject({ id: 'app-1', up: true, mapVersion: 3, breakers: ['shard-b:open'] });
    expect(f.apps[1]).toMatchObject({ id: 'app-2', up: false, error: 'ECONNREFUSED' });
    expect(f.shards.find((s) => s.shard === 'shard-a')).toMatchObject({ primaryUp: true, primaryOpsPerS: 25, replicas: [{ name: 'shard-a-r1', up: true, lagS: 0.25 }], state: 'serving' });
  });

  it('renders a frame that names every app and shard', () => {
    const out = renderFrame(computeFrame(before, after), 'tessera top — test');
    expect(out).toContain('app-1');
    expect(out).toMatch(/app-2\s+DOWN ECONNREFUSED/);
    expect(out).toMatch(/shard-a\s+up/);
    expect(out).toContain('shard-a-r1 0.25s');
  });

  it('counts a restarted app from zero instead of a negative rate', () => {
    const restarted: Snapshot = { at: 4000, apps: [{ id: 'app-1', samples: parsePromText(text({ l1: 10, miss: 0, err: 0, fast: 10, slow: 0, hits: 10, misses: 0, primaryOps: 0, lag: 0, replicaUp: 0 })) }] };
    const f = computeFrame(after, restarted);
    expect(f.total.rps).toBeCloseTo(5);
    expect(f.shards[0]!.replicas[0]).toMatchObject({ up: false });
  });
});
