/**
 * The two ways back.
 *
 * rollback (after cutover, before cleanup): the source still holds every row
 * as of the fence (fenced rows do not change), so only writes the target took
 * since then must come back. The cutover left a logical slot on the target,
 * created before the target owned the range; rollback subscribes the source
 * to it (`copy_data = false`, and on PostgreSQL 16+ `origin = none`, so rows
 * that arrived on the target by replication are not sent back; on 15 the slot
 * was made after they had all arrived), then does a cutover in reverse: fence on
 * the target, wait for the source to apply the target's LSN, unfence on the
 * source, publish the map back. Then the target's copy and the replication
 * objects are removed.
 *
 * abort (before cutover): drop the replication objects, give the range back to
 * writers on the source if a crashed cutover left it fenced, and delete the
 * partial copy on the target.
 */
import { releaseRange } from '../db/fence.js';
import { ShardMap } from '../routing/shard-map.js';
import { dropReplication } from './cleanup.js';
import type { RunContext } from './context.js';
import { ReshardError } from './errors.js';
import { mapAssigns, reassign } from './map-edit.js';
import { deleteRangeRows, rangeRow, setFenced } from './ownership.js';
import { currentLsn, dropPublication, dropSubscription, ensureSubscription, waitConfirmed } from './replication.js';

async function latest(ctx: RunContext): Promise<ShardMap> {
  const rec = await ctx.catalog.latestMap();
  if (!rec) throw new ReshardError('the catalog has no shard map');
  return ShardMap.fromRecord(rec);
}

export async function rollback(ctx: RunContext): Promise<void> {
  await ctx.save({ phase: 'rollback' });
  let map = await latest(ctx);
  const started = performance.now();
  let windowMs: number | null = null;
  if (mapAssigns(map, ctx.range, ctx.target.name)) {
    // The forward stream must stop first: writes coming back to the source would loop.
    await dropSubscription(ctx.target.db, ctx.names.forward);
    await dropPublication(ctx.source.db, ctx.names.forward);
    await ensureSubscription(ctx.source.db, ctx.names.reverse, ctx.target.url, ctx.names.reverse, { copyData: false, existingSlot: ctx.names.reverse });
    // Catch up before fencing so the window stays short.
    await waitConfirmed(ctx.target.db, ctx.names.reverse, await currentLsn(ctx.target.db), 30_000);
    const t0 = performance.now();
    await setFenced(ctx.target.db, ctx.range, true);
    await waitConfirmed(ctx.target.db, ctx.names.reverse, await currentLsn(ctx.target.db), ctx.opts.cutoverCatchUpMs);
    await setFenced(ctx.source.db, ctx.range, false);
    map = await latest(ctx);
    const version = await ctx.catalog.publishMap(reassign(map, ctx.range, ctx.source.name), map.version, `reshard ${ctx.wf.id} rollback: ${ctx.wf.range} ${ctx.target.name} -> ${ctx.source.name}`);
    windowMs = Math.round((performance.now() - t0) * 10) / 10;
    ctx.report.event(ctx.wf.id, `rolled back: ${ctx.wf.range} on ${ctx.source.name} again (map v${version}); writes to the range waited ${windowMs} ms`);
  } else if (mapAssigns(map, ctx.range, ctx.source.name)) {
    // A rollback that died after publishing: make sure the source is writable.
    await setFenced(ctx.source.db, ctx.range, false);
  } else {
    throw new ReshardError(`shard map v${map.version} gives ${ctx.wf.range} to neither ${ctx.source.name} nor ${ctx.target.name}`);
  }
  await releaseRange(ctx.target.db, ctx.range);
  await dropReplication(ctx);
  const deleted = await deleteRangeRows(ctx.target.db, ctx.range);
  await ctx.save({ phase: 'rolled_back', finish: { rollback: { windowMs, deleted, ms: Math.round(performance.now() - started) } } });
}

export async function abort(ctx: RunContext): Promise<void> {
  const map = await latest(ctx);
  if (mapAssigns(map, ctx.range, ctx.target.name)) {
    throw new ReshardError(`${ctx.wf.range} is already switched to ${ctx.target.name} (map v${map.version}): use \`reshard rollback ${ctx.wf.id}\``);
  }
  await ctx.save({ phase: 'abort' });
  // A cutover that died between claim and publish: the target must not keep the claim.
  await releaseRange(ctx.target.db, ctx.range).catch(() => undefined);
  await dropReplication(ctx);
  if ((await rangeRow(ctx.source.db, ctx.range))?.fenced) await setFenced(ctx.source.db, ctx.range, false);
  const deleted = await deleteRangeRows(ctx.target.db, ctx.range).catch(() => ({}));
  await ctx.save({ phase: 'aborted', finish: { abort: { deleted } } });
  ctx.report.event(ctx.wf.id, `aborted: replication objects dropped, partial copy deleted from ${ctx.target.name}`);
}
