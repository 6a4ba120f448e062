/**
 * cutover: fence the range on the source (waiting for in-flight writers),
 * wait until the target has applied the source's LSN at the fence, let the
 * target own the range, publish the new map. Writes to the range wait (apps
 * retry fenced writes) only between the fence and the publish; that window is
 * measured and stored. Reads are never fenced.
 */
import { claimRanges } from '../db/fence.js';
import { formatLsn } from '../db/lsn.js';
import { ShardMap } from '../routing/shard-map.js';
import type { RunContext } from './context.js';
import { forwardCaughtUp } from './context.js';
import { ReshardError } from './errors.js';
import { mapAssigns, reassign } from './map-edit.js';
import { setFenced } from './ownership.js';
import { canFilterOrigin, currentLsn, ensureLogicalSlot, ensurePublication, waitConfirmed } from './replication.js';

async function latestMap(ctx: RunContext): Promise<ShardMap> {
  const rec = await ctx.catalog.latestMap();
  if (!rec) throw new ReshardError('the catalog has no shard map');
  return ShardMap.fromRecord(rec);
}

export async function cutover(ctx: RunContext, resumed: boolean): Promise<void> {
  const before = await latestMap(ctx);
  if (mapAssigns(before, ctx.range, ctx.target.name)) {
    // A previous run published and died before recording it: finish the bookkeeping.
    await claimRanges(ctx.target.db, [ctx.range]);
    await ctx.save({ phase: 'switched', mapVersionAfter: before.version });
    return;
  }
  if (!mapAssigns(before, ctx.range, ctx.source.name)) throw new ReshardError(`shard map v${before.version} no longer gives ${ctx.wf.range} to ${ctx.source.name}`);

  // Outside the window: the rollback stream's publication and slot on the
  // target, made before the target takes any write for the range (the
  // publication first: a slot cannot decode with a publication younger than it).
  // Before PostgreSQL 16 the slot waits for the forward stream to catch up,
  // inside the window (see canFilterOrigin).
  const slotEarly = await canFilterOrigin(ctx.target.db);
  await ensurePublication(ctx.target.db, ctx.names.reverse, ctx.range);
  if (slotEarly) await ensureLogicalSlot(ctx.target.db, ctx.names.reverse);
  // And a caught-up stream, so that the wait inside the window is short.
  await forwardCaughtUp(ctx);

  const t0 = performance.now();
  if (!(await setFenced(ctx.source.db, ctx.range, true))) throw new ReshardError(`${ctx.source.name} has no owned-range row for ${ctx.wf.range}`);
  const t1 = performance.now();
  const lsn = await currentLsn(ctx.source.db);
  try {
    await waitConfirmed(ctx.source.db, ctx.names.forward, lsn, ctx.opts.cutoverCatchUpMs);
  } catch (err) {
    // Give the range back to its writers rather than keep it fenced; resume retries.
    await setFenced(ctx.source.db, ctx.range, false);
    throw new ReshardError(`cutover abandoned, the range is writable on ${ctx.source.name} again: ${(err as Error).message}`, { cause: err });
  }
  if (!slotEarly) await ensureLogicalSlot(ctx.target.db, ctx.names.reverse);
  const t2 = performance.now();
  await claimRanges(ctx.target.db, [ctx.range]);
  const t3 = performance.now();
  const version = await ctx.catalog.publishMap(reassign(before, ctx.range, ctx.target.name), before.version, `reshard ${ctx.wf.id}: ${ctx.wf.range} ${ctx.source.name} -> ${ctx.target.name}`);
  const t4 = performance.now();
  const ms = (a: number, b: number) => Math.round((b - a) * 10) / 10;
  const timings = { fenceMs: ms(t0, t1), catchUpMs: ms(t1, t2), claimMs: ms(t2, t3), publishMs: ms(t3, t4), windowMs: ms(t0, t4), fenceLsn: formatLsn(lsn), resumed };
  await ctx.save({ phase: 'switched', cutover: timings, mapVersionBefore: before.version, mapVersionAfter: version });
  ctx.report.event(ctx.wf.id, `cutover: ${ctx.wf.range} now on ${ctx.target.name} (map v${version}); writes to the range waited ${timings.windowMs} ms (fence ${timings.fenceMs}, catch-up ${timings.catchUpMs}, claim ${timings.claimMs}, publish ${timings.publishMs})`, { cutover: timings });
}
