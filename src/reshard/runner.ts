/**
 * Runs a workflow from the phase the catalog says it is in. Every phase is
 * idempotent, so after a crash (even SIGKILL) `resume` simply runs the
 * current phase again. A session advisory lock on the catalog keeps two CLIs
 * off one workflow; it dies with the session of a killed CLI.
 */
import type { CatalogStore } from '../catalog/store.js';
import { inSpan } from '../observability/tracing.js';
import { parseKeyRange } from '../routing/keyrange.js';
import { cleanup } from './cleanup.js';
import { DEFAULT_RUN_OPTIONS, type RunContext, type RunOptions } from './context.js';
import { prepare, startCopy, waitCopy } from './copy.js';
import { cutover } from './cutover.js';
import { ReshardError, ReshardInputError } from './errors.js';
import type { Reporter } from './progress.js';
import { abort, rollback } from './rollback.js';
import { openClient, shardEndpoints } from './shard-db.js';
import { verifyPhase } from './verify-phase.js';
import type { Phase, Workflow } from './workflow.js';
import { FINAL_PHASES, replicationNames } from './workflow.js';
import type { WorkflowStore } from './workflow-store.js';

/** What to do with a workflow. */
export type Action = 'forward' | 'cleanup' | 'rollback' | 'abort';

// Any constant: the first key of the per-workflow advisory lock.
const RUN_LOCK = 7_420_003;

/** Where each action may start from. */
const ALLOWED: Record<Action, readonly Phase[]> = {
  forward: ['prepare', 'copy', 'verify', 'cutover', 'switched', 'cleanup'],
  cleanup: ['switched', 'cleanup'],
  rollback: ['switched', 'rollback'],
  abort: ['prepare', 'copy', 'verify', 'cutover', 'abort'],
};

/** Dependencies of {@link runWorkflow}. */
export interface RunDeps {
  catalog: CatalogStore;
  workflows: WorkflowStore;
  report: Reporter;
  opts?: Partial<RunOptions>;
}

/**
 * Runs `action` on a workflow. `forward` runs prepare … cutover and stops at
 * `switched` (cleanup and rollback are separate, as in Vitess), except that a
 * workflow already in `cleanup` is finished. Failures are recorded on the
 * workflow and rethrown; the phase stays, so `resume` retries it.
 */
export function runWorkflow(deps: RunDeps, id: string, action: Action, opts: { stopAfter?: Phase } = {}): Promise<Workflow> {
  // One trace per run (tracing on only): its phases are child spans.
  return inSpan(`reshard ${action}`, { 'tessera.reshard.workflow': id, 'tessera.reshard.action': action }, async (span) => {
    const wf = await runWorkflowUntraced(deps, id, action, opts);
    span?.setAttributes({ 'tessera.reshard.source': wf.source, 'tessera.reshard.target': wf.target, 'tessera.reshard.range': wf.range, 'tessera.reshard.phase': wf.phase });
    return wf;
  });
}

async function runWorkflowUntraced(deps: RunDeps, id: string, action: Action, opts: { stopAfter?: Phase }): Promise<Workflow> {
  let wf = await deps.workflows.get(id);
  if (FINAL_PHASES.includes(wf.phase)) throw new ReshardInputError('WRONG_PHASE', `workflow ${id} is finished (${wf.phase})`);
  if (!ALLOWED[action].includes(wf.phase)) {
    const hint = action === 'rollback' && ['prepare', 'copy', 'verify', 'cutover'].includes(wf.phase) ? ' (not switched yet: use abort)' : action === 'abort' ? ' (already switched: use rollback)' : '';
    throw new ReshardInputError('WRONG_PHASE', `cannot ${action} workflow ${id} in phase ${wf.phase}${hint}`);
  }
  const lock = await openClient(deps.catalog.url, 'tessera-reshard-lock');
  try {
    const got = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [RUN_LOCK, id]);
    if (!got.rows[0]?.ok) throw new ReshardInputError('WORKFLOW_BUSY', `workflow ${id} is being run by another tessera process`);
    wf = await deps.workflows.get(id); // re-read under the lock
    const [src, tgt] = [await shardEndpoints(deps.catalog, wf.source), await shardEndpoints(deps.catalog, wf.target)];
    const source = await openClient(src.primaryUrl, `tessera-reshard-${id}`);
    const target = await openClient(tgt.primaryUrl, `tessera-reshard-${id}`).catch(async (err: unknown) => {
      await source.end().catch(() => undefined);
      throw err;
    });
    const ctx: RunContext = {
      wf, range: parseKeyRange(wf.range), names: replicationNames(id),
      source: { name: wf.source, url: src.primaryUrl, db: source },
      target: { name: wf.target, url: tgt.primaryUrl, db: target },
      catalog: deps.catalog, workflows: deps.workflows, report: deps.report,
      opts: { ...DEFAULT_RUN_OPTIONS, ...deps.opts },
      save: async (patch) => {
        ctx.wf = await deps.workflows.update(id, patch);
      },
    };
    try {
      await drive(ctx, action, opts.stopAfter);
      if (ctx.wf.error) await ctx.save({ error: null });
      return ctx.wf;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await deps.workflows.update(id, { error: message }).catch(() => undefined);
      throw err instanceof ReshardError || err instanceof ReshardInputError ? err : new ReshardError(`workflow ${id} failed in phase ${ctx.wf.phase}: ${message}`, { cause: err });
    } finally {
      await Promise.all([source.end().catch(() => undefined), target.end().catch(() => undefined)]);
    }
  } finally {
    await lock.end().catch(() => undefined);
  }
}

/** One phase as a span of the run's trace (tracing on only). */
function phase<T>(ctx: RunContext, name: string, fn: () => Promise<T>): Promise<T> {
  return inSpan(`reshard.${name}`, { 'tessera.reshard.workflow': ctx.wf.id, 'tessera.reshard.range': ctx.wf.range, 'tessera.reshard.source': ctx.source.name, 'tessera.reshard.target': ctx.target.name }, fn);
}

async function drive(ctx: RunContext, action: Action, stopAfter?: Phase): Promise<void> {
  if (action === 'rollback') return phase(ctx, 'rollback', () => rollback(ctx));
  if (action === 'abort') return phase(ctx, 'abort', () => abort(ctx));
  if (action === 'cleanup') return phase(ctx, 'cleanup', () => cleanup(ctx));
  const resumedCutover = ctx.wf.phase === 'cutover';
  for (;;) {
    const current = ctx.wf.phase;
    if (current === stopAfter) {
      // `--no-wait`: the copy runs inside PostgreSQL without us; `resume` picks it up.
      if (current === 'copy') await phase(ctx, 'copy.start', () => startCopy(ctx));
      return;
    }
    switch (current) {
      case 'prepare': await phase(ctx, 'prepare', () => prepare(ctx)); break;
      case 'copy': await phase(ctx, 'copy', () => waitCopy(ctx)); break;
      case 'verify': await phase(ctx, 'verify', () => verifyPhase(ctx)); break;
      case 'cutover': await phase(ctx, 'cutover', () => cutover(ctx, resumedCutover)); break;
      case 'cleanup': await phase(ctx, 'cleanup', () => cleanup(ctx)); break;
      default: return; // switched (waits for `cleanup` or `rollback`) or final
    }
  }
}
