/**
 * A resharding workflow: one ksid range moving from a source shard to a target
 * shard, and the phase it has reached. The row in the catalog is the whole
 * state; the CLI keeps nothing else, which is what makes `resume` work.
 */

/** The phases of a workflow, in order for a move that goes through. */
export const FORWARD_PHASES = ['prepare', 'copy', 'verify', 'cutover', 'switched', 'cleanup', 'done'] as const;

/** Every phase, including the two ways back. */
export type Phase = (typeof FORWARD_PHASES)[number] | 'rollback' | 'rolled_back' | 'abort' | 'aborted';

/** Phases after which nothing more happens. */
export const FINAL_PHASES: readonly Phase[] = ['done', 'rolled_back', 'aborted'];

/** What kind of operation created the workflow (for people; the mechanics are the same). */
export type WorkflowKind = 'split' | 'merge' | 'move' | 'add-shard';

/** Per-table result of comparing the moving range on both sides (VDiff style). */
export interface TableDiff {
  table: string;
  sourceRows: number;
  targetRows: number;
  /** Sub-ranges whose count and checksum agree. */
  matchingRanges: number;
  /** Sub-ranges that still differed after rechecks. */
  mismatchedRanges: number;
  /** Rows present on both sides with different contents. */
  mismatched: number;
  extraOnSource: number;
  extraOnTarget: number;
}

/** The outcome of a verify. */
export interface VerifyResult {
  at: string;
  subRanges: number;
  tables: TableDiff[];
  ok: boolean;
  /** Sub-range checks repeated because rows changed between the two reads. */
  rechecks: number;
  ms: number;
}

/** Timings of a cutover, in milliseconds. `windowMs` is fence → publish: writes to the range wait this long. */
export interface CutoverTimings {
  fenceMs: number;
  catchUpMs: number;
  claimMs: number;
  publishMs: number;
  windowMs: number;
  fenceLsn: string;
  /** True when this cutover was finished by `resume` after a crash (the window then includes the downtime). */
  resumed: boolean;
}

/** One workflow as stored in the catalog. */
export interface Workflow {
  id: string;
  batch: string;
  kind: WorkflowKind;
  source: string;
  target: string;
  /** Vitess notation, e.g. `40-80`. */
  range: string;
  phase: Phase;
  rowsTotal: number;
  bytesTotal: number;
  rowsCopied: number;
  copyStartedAt: Date | null;
  copyDoneAt: Date | null;
  verify: VerifyResult | null;
  cutover: CutoverTimings | null;
  mapVersionBefore: number | null;
  mapVersionAfter: number | null;
  finish: Record<string, unknown> | null;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/** Names of the replication objects of a workflow (identifiers: [a-z0-9_]). */
export interface ReplicationNames {
  /** Publication on the source and subscription on the target (and the source's slot). */
  forward: string;
  /** Publication and slot on the target, subscription on the source, for a rollback. */
  reverse: string;
}

/** Replication object names derived from a workflow id (`rs-1a2b3c4d` → `tessera_rs_1a2b3c4d`). */
export function replicationNames(id: string): ReplicationNames {
  const base = `tessera_${id.replace(/[^a-z0-9]/g, '_')}`;
  return { forward: base, reverse: `${base}_rev` };
}
