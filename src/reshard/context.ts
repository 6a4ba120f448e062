/**
 * What every phase of a running workflow works with: the workflow row, its
 * range, connections to both primaries and to the catalog, and options.
 */
import type pg from 'pg';
import type { CatalogStore } from '../catalog/store.js';
import type { KeyRange } from '../routing/keyrange.js';
import type { Reporter } from './progress.js';
import type { ReplicationNames, Workflow } from './workflow.js';
import type { WorkflowPatch, WorkflowStore } from './workflow-store.js';
import { currentLsn, waitConfirmed } from './replication.js';

/** Tunables of a run. */
export interface RunOptions {
  /** How long the cutover waits (writes to the range fenced) for the target to catch up before giving up and unfencing. @default 10 000 */
  cutoverCatchUpMs: number;
  /** An app replica counts as live when it heartbeated within this. @default 15 000 */
  liveWithinMs: number;
  /** How long cleanup waits for every live replica to route with the new map. @default 60 000 */
  cleanupWaitMs: number;
  /**
   * Pause between steps of copy and verify. Fault injection for tests that
   * kill the CLI in the middle of a phase; 0 in normal use. @default 0
   */
  stepDelayMs: number;
}

export const DEFAULT_RUN_OPTIONS: RunOptions = { cutoverCatchUpMs: 10_000, liveWithinMs: 15_000, cleanupWaitMs: 60_000, stepDelayMs: 0 };

/** One side of a move. */
export interface Side {
  name: string;
  url: string;
  db: pg.Client;
}

/** The state a phase gets. `save` updates the catalog row and `wf`. */
export interface RunContext {
  wf: Workflow;
  range: KeyRange;
  names: ReplicationNames;
  source: Side;
  target: Side;
  catalog: CatalogStore;
  workflows: WorkflowStore;
  report: Reporter;
  opts: RunOptions;
  save(patch: WorkflowPatch): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until the target has applied everything committed on the source so far (forward stream). */
export async function forwardCaughtUp(ctx: RunContext, timeoutMs = 30_000): Promise<void> {
  const lsn = await currentLsn(ctx.source.db);
  await waitConfirmed(ctx.source.db, ctx.names.forward, lsn, timeoutMs);
}
