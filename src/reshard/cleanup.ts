/**
 * cleanup: once every live app replica routes with the new map, drop the
 * replication objects (forward subscription first, so that deleting the
 * moved rows on the source is not replicated to the target) and delete the
 * moved rows from the source in batches, then its fenced range row.
 */
import { releaseRange } from '../db/fence.js';
import type { RunContext } from './context.js';
import { sleep } from './context.js';
import { ReshardError } from './errors.js';
import { deleteRangeRows } from './ownership.js';
import { dropPublication, dropSlotIfExists, dropSubscription } from './replication.js';

/** Waits until every app replica seen within `liveWithinMs` reports at least `version`. */
async function waitReplicasOn(ctx: RunContext, version: number): Promise<number> {
  const deadline = Date.now() + ctx.opts.cleanupWaitMs;
  for (;;) {
    const live = await ctx.catalog.liveReplicas(ctx.opts.liveWithinMs);
    const behind = live.filter((r) => r.mapVersion < version);
    if (behind.length === 0) return live.length;
    if (Date.now() > deadline) {
      throw new ReshardError(`cleanup not started: app replicas still route with an older map than v${version}: ${behind.map((r) => `${r.appId} (v${r.mapVersion})`).join(', ')}`);
    }
    await sleep(250);
  }
}

/** Drops the forward and reverse replication objects of a workflow (idempotent). */
export async function dropReplication(ctx: RunContext): Promise<void> {
  await dropSubscription(ctx.target.db, ctx.names.forward);
  await dropSlotIfExists(ctx.source.db, ctx.names.forward);
  await dropPublication(ctx.source.db, ctx.names.forward);
  await dropSubscription(ctx.source.db, ctx.names.reverse);
  await dropSlotIfExists(ctx.target.db, ctx.names.reverse);
  await dropPublication(ctx.target.db, ctx.names.reverse);
}

export async function cleanup(ctx: RunContext): Promise<void> {
  const version = ctx.wf.mapVersionAfter;
  if (version === null) throw new ReshardError(`workflow ${ctx.wf.id} has no published map version to wait for`);
  const started = performance.now();
  if (ctx.wf.phase !== 'cleanup') {
    const replicas = await waitReplicasOn(ctx, version);
    ctx.report.event(ctx.wf.id, `all ${replicas} live app replicas route with map v${version}`);
    // From here rollback is no longer offered: the source's copy is about to go.
    await ctx.save({ phase: 'cleanup' });
  }
  await dropReplication(ctx);
  const deleted = await deleteRangeRows(ctx.source.db, ctx.range);
  await releaseRange(ctx.source.db, ctx.range);
  const ms = Math.round(performance.now() - started);
  await ctx.save({ phase: 'done', finish: { cleanup: { deleted, ms } } });
  ctx.report.event(ctx.wf.id, `cleanup done in ${ms} ms: deleted ${Object.entries(deleted).map(([t, n]) => `${n} ${t}`).join(', ')} from ${ctx.source.name}`);
}
