/**
 * prepare and copy: target schema, the range as its own owned row on the
 * source, a filtered publication on the source, a subscription on the target
 * (initial copy, then streaming), and the wait for the initial copy.
 */
import { applyMigrations, MIGRATION_DIRS } from '../db/migrations.js';
import type { RunContext } from './context.js';
import { sleep } from './context.js';
import { isolateRange } from './ownership.js';
import { rangeParams, rangePredicate } from './range-sql.js';
import { copyProgress, dropSlotIfExists, ensurePublication, ensureSubscription, syncStates } from './replication.js';

/** prepare: target schema (same migrations), the range split out on the source, the publication. */
export async function prepare(ctx: RunContext): Promise<void> {
  await applyMigrations(ctx.target.db, MIGRATION_DIRS.shard);
  await isolateRange(ctx.source.db, ctx.range);
  await ensurePublication(ctx.source.db, ctx.names.forward, ctx.range);
  ctx.report.event(ctx.wf.id, `prepared: target schema up to date, ${ctx.wf.range} isolated on ${ctx.source.name}, publication ${ctx.names.forward}`);
  await ctx.save({ phase: 'copy', copyStartedAt: new Date() });
}

/** Starts the subscription (if missing). The copy then runs inside PostgreSQL, CLI or not. */
export async function startCopy(ctx: RunContext): Promise<void> {
  await ensureSubscription(ctx.target.db, ctx.names.forward, ctx.source.url, ctx.names.forward, {
    copyData: true,
    // A CREATE SUBSCRIPTION killed after it made the slot leaves the slot behind.
    dropStaleSlot: (slot) => dropSlotIfExists(ctx.source.db, slot),
  });
}

async function rowsOnTarget(ctx: RunContext, table: string): Promise<number> {
  const res = await ctx.target.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE ${rangePredicate(1)}`, rangeParams(ctx.range));
  return Number(res.rows[0]?.n ?? 0);
}

/** copy: waits until every table's initial copy is done and streaming (`r`), reporting rows. */
export async function waitCopy(ctx: RunContext): Promise<void> {
  await startCopy(ctx);
  const total = ctx.wf.rowsTotal;
  for (;;) {
    const states = await syncStates(ctx.target.db, ctx.names.forward);
    const inflight = new Map((await copyProgress(ctx.target.db)).map((p) => [p.table.replace(/^public\./, ''), p.tuples]));
    let done = 0;
    for (const s of states) done += ['f', 's', 'r'].includes(s.state) ? await rowsOnTarget(ctx, s.table) : (inflight.get(s.table) ?? 0);
    ctx.report.progress({ workflow: ctx.wf.id, phase: 'copy', done, total, unit: 'rows' });
    if (states.length === 3 && states.every((s) => s.state === 'r')) {
      await ctx.save({ rowsCopied: done });
      break;
    }
    await ctx.save({ rowsCopied: done });
    await sleep(Math.max(250, ctx.opts.stepDelayMs));
  }
  ctx.report.event(ctx.wf.id, `copy done: ${ctx.wf.rowsCopied} rows on ${ctx.target.name}, streaming changes`);
  await ctx.save({ phase: 'verify', copyDoneAt: new Date() });
}
