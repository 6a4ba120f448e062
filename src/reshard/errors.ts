/**
 * Errors of the resharding part. `ReshardInputError` is a refusal of bad input
 * made before anything changed; `ReshardError` is a failure while running.
 */

/** Codes of refusals, stable for scripts and tests. */
export type ReshardInputCode =
  | 'UNKNOWN_SHARD'
  | 'BAD_RANGE'
  | 'RANGE_NOT_OWNED'
  | 'TARGET_NOT_EMPTY'
  | 'RANGE_ALREADY_MOVING'
  | 'SHARD_UNREACHABLE'
  | 'SAME_SHARD'
  | 'UNKNOWN_WORKFLOW'
  | 'WRONG_PHASE'
  | 'WORKFLOW_BUSY';

/** Bad input, refused before anything changed. */
export class ReshardInputError extends Error {
  constructor(readonly code: ReshardInputCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts);
    this.name = 'ReshardInputError';
  }
}

/** A failure while a workflow runs; the workflow records it and `resume` retries. */
export class ReshardError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, opts);
    this.name = 'ReshardError';
  }
}
