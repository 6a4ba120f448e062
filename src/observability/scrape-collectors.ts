/**
 * Gauges refreshed at scrape time rather than kept up per request: what each
 * replica knows of the shards (breaker, epoch, state, replica lag), a probe
 * of every shard primary, and what the catalog records of resharding and
 * failovers. Every replica reports the catalog's facts alike; dashboards and
 * alert rules take `max by` over them.
 */
import type { CatalogStore } from '../catalog/store.js';
import type { ShardPools, ShardState } from '../db/pools.js';
import type { Router } from '../routing/router.js';
import type { Metrics } from './metrics.js';

const BREAKER: Record<string, number> = { closed: 0, 'half-open': 1, open: 2 };
const STATES: readonly ShardState[] = ['serving', 'switching', 'electing'];

/**
 * Counts each shard's units of work by role, with the label-bound children
 * cached (prom-client hashes a label object on every call otherwise).
 */
export function shardOpCounter(metrics: Metrics): (shard: string, role: 'primary' | 'replica') => void {
  const children = new Map<string, ReturnType<Metrics['shardOps']['labels']>>();
  return (shard, role) => {
    const key = `${shard} ${role}`;
    let child = children.get(key);
    if (!child) {
      child = metrics.shardOps.labels({ shard, role });
      children.set(key, child);
    }
    child.inc();
  };
}

/** Bounds a scrape-time probe: a dead server answers "down", not "wait". */
function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Breaker, epoch, state and replica gauges, read off this replica's pools (synchronous, no I/O). */
export function poolGauges(pools: ShardPools, metrics: Metrics): () => void {
  return () => {
    for (const shard of pools.names()) {
      metrics.breakerState.set({ shard }, BREAKER[pools.breakerState(shard)] ?? 2);
      const ep = pools.endpoints(shard);
      metrics.shardEpoch.set({ shard }, ep?.epoch ?? 1);
      for (const state of STATES) metrics.shardState.set({ shard, state }, (ep?.state ?? 'serving') === state ? 1 : 0);
      for (const r of pools.replicaStatuses(shard)) {
        metrics.replicaUp.set({ shard, replica: r.name }, r.reachable ? 1 : 0);
        // An unreachable replica has no lag to report: -1, and tessera_replica_up says why.
        metrics.replicaLagSeconds.set({ shard, replica: r.name }, Number.isFinite(r.lagMs) ? r.lagMs / 1000 : -1);
        metrics.replicaLagBytes.set({ shard, replica: r.name }, r.lagBytes);
      }
    }
  };
}

/**
 * Probes every shard primary of the map: reachable and not in recovery is
 * up. The probe goes through the shard's breaker like any query, so a dead
 * primary costs one fast failure once the breaker is open.
 */
export function shardProbe(pools: ShardPools, router: Router, metrics: Metrics, timeoutMs = 1000): () => Promise<void> {
  return async () => {
    await Promise.all(router.map.shards().map(async (shard) => {
      const up = await within(timeoutMs, pools.query<{ r: boolean }>(shard, 'SELECT pg_is_in_recovery() AS r')).then(
        (res) => res.rows[0]?.r === false,
        () => false,
      );
      metrics.shardUp.set({ shard }, up ? 1 : 0);
    }));
  };
}

interface WorkflowRow {
  id: string;
  source: string;
  target: string;
  range: string;
  phase: string;
  rows_total: string;
  rows_copied: string;
  window_ms: number | null;
}

interface FailoverRow {
  shard: string;
  kind: string;
  result: string;
  n: string;
  pause_ms: number | null;
}

/** Resharding and failover gauges from the catalog: workflows running or finished within a day, failovers ever. */
export function catalogGauges(store: CatalogStore, metrics: Metrics, timeoutMs = 1000): () => Promise<void> {
  return async () => {
    const [workflows, failovers] = await within(timeoutMs, Promise.all([
      store.pool.query<WorkflowRow>(
        `SELECT id, source, target, range, phase, rows_total::text, rows_copied::text, (cutover->>'windowMs')::float8 AS window_ms
           FROM reshard_workflows
          WHERE phase NOT IN ('done', 'rolled_back', 'aborted') OR updated_at > now() - interval '1 day'
          ORDER BY updated_at DESC LIMIT 50`,
      ),
      store.pool.query<FailoverRow>(
        `SELECT shard, kind, CASE WHEN phase IN ('done', 'failed') THEN phase ELSE 'running' END AS result, count(*)::text AS n,
                max((detail->>'writePauseMs')::float8) FILTER (WHERE id = last_id) AS pause_ms
           FROM (SELECT *, max(id) FILTER (WHERE kind = 'planned' AND phase = 'done') OVER (PARTITION BY shard) AS last_id FROM shard_failovers) f
          GROUP BY 1, 2, 3`,
      ),
    ]));
    metrics.reshardPhase.reset();
    metrics.reshardRowsCopied.reset();
    metrics.reshardRowsTotal.reset();
    metrics.reshardCutoverWindow.reset();
    for (const w of workflows.rows) {
      metrics.reshardPhase.set({ workflow: w.id, source: w.source, target: w.target, range: w.range, phase: w.phase }, 1);
      metrics.reshardRowsCopied.set({ workflow: w.id }, Number(w.rows_copied));
      metrics.reshardRowsTotal.set({ workflow: w.id }, Number(w.rows_total));
      if (w.window_ms !== null) metrics.reshardCutoverWindow.set({ workflow: w.id }, w.window_ms / 1000);
    }
    metrics.failovers.reset();
    for (const f of failovers.rows) {
      metrics.failovers.set({ shard: f.shard, kind: f.kind, result: f.result }, Number(f.n));
      if (f.pause_ms !== null) metrics.failoverWritePause.set({ shard: f.shard }, f.pause_ms / 1000);
    }
  };
}
