/** verify: compares the range on both sides; only zero differences let the workflow go on to cutover. */
import type { RunContext } from './context.js';
import { forwardCaughtUp, sleep } from './context.js';
import { ReshardError } from './errors.js';
import { verifyRange } from './verify.js';

export async function verifyPhase(ctx: RunContext): Promise<void> {
  const result = await verifyRange(ctx.source.db, ctx.target.db, ctx.range, {
    caughtUp: () => forwardCaughtUp(ctx),
    onSubRange: async (done, total) => {
      ctx.report.progress({ workflow: ctx.wf.id, phase: 'verify', done, total, unit: 'sub-ranges' });
      if (ctx.opts.stepDelayMs > 0) await sleep(ctx.opts.stepDelayMs);
    },
  });
  await ctx.save({ verify: result });
  const summary = result.tables.map((t) => `${t.table} ${t.sourceRows}/${t.targetRows} rows, ${t.mismatchedRanges} differing sub-ranges`).join('; ');
  if (!result.ok) {
    const rows = result.tables.map((t) => `${t.table}: mismatched ${t.mismatched}, extra on source ${t.extraOnSource}, extra on target ${t.extraOnTarget}`).join('; ');
    throw new ReshardError(`verify found differences (${rows}); nothing was switched. Inspect, then \`reshard resume ${ctx.wf.id}\` to verify again or \`reshard abort ${ctx.wf.id}\``);
  }
  ctx.report.event(ctx.wf.id, `verify ok in ${result.ms} ms (${result.subRanges} sub-ranges, ${result.rechecks} rechecks): ${summary}`);
  await ctx.save({ phase: 'cutover' });
}
