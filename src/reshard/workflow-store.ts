import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { parseKeyRange, rangesOverlap } from '../routing/keyrange.js';
import { ReshardInputError } from './errors.js';
import type { CutoverTimings, Phase, VerifyResult, Workflow, WorkflowKind } from './workflow.js';
import { FINAL_PHASES } from './workflow.js';

interface WorkflowRow {
  id: string;
  batch: string;
  kind: WorkflowKind;
  source: string;
  target: string;
  range: string;
  phase: Phase;
  rows_total: string;
  bytes_total: string;
  rows_copied: string;
  copy_started_at: Date | null;
  copy_done_at: Date | null;
  verify: VerifyResult | null;
  cutover: CutoverTimings | null;
  map_version_before: string | null;
  map_version_after: string | null;
  finish: Record<string, unknown> | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

const num = (v: string | null): number | null => (v === null ? null : Number(v));

function fromRow(r: WorkflowRow): Workflow {
  return {
    id: r.id, batch: r.batch, kind: r.kind, source: r.source, target: r.target, range: r.range, phase: r.phase,
    rowsTotal: Number(r.rows_total), bytesTotal: Number(r.bytes_total), rowsCopied: Number(r.rows_copied),
    copyStartedAt: r.copy_started_at, copyDoneAt: r.copy_done_at, verify: r.verify, cutover: r.cutover,
    mapVersionBefore: num(r.map_version_before), mapVersionAfter: num(r.map_version_after),
    finish: r.finish, error: r.error, createdAt: r.created_at, updatedAt: r.updated_at, finishedAt: r.finished_at,
  };
}

/** A new workflow, before it is stored. */
export interface NewWorkflow {
  kind: WorkflowKind;
  source: string;
  target: string;
  range: string;
  rowsTotal: number;
  bytesTotal: number;
}

/** Fields a phase may update. */
export interface WorkflowPatch {
  phase?: Phase;
  rowsCopied?: number;
  copyStartedAt?: Date;
  copyDoneAt?: Date;
  verify?: VerifyResult;
  cutover?: CutoverTimings;
  mapVersionBefore?: number;
  mapVersionAfter?: number;
  finish?: Record<string, unknown>;
  error?: string | null;
}

const COLUMNS: Record<keyof WorkflowPatch, string> = {
  phase: 'phase', rowsCopied: 'rows_copied', copyStartedAt: 'copy_started_at', copyDoneAt: 'copy_done_at', verify: 'verify',
  cutover: 'cutover', mapVersionBefore: 'map_version_before', mapVersionAfter: 'map_version_after', finish: 'finish', error: 'error',
};

// Serialises creators so that two `--apply` runs cannot both claim one range.
const CREATE_LOCK = 7_420_002;

/** Workflow rows in the catalog (`reshard_workflows`, migration 002). */
export class WorkflowStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Every workflow, newest first. */
  async list(): Promise<Workflow[]> {
    const res = await this.pool.query<WorkflowRow>('SELECT * FROM reshard_workflows ORDER BY created_at DESC, id');
    return res.rows.map(fromRow);
  }

  /** One workflow; refuses an unknown id. */
  async get(id: string): Promise<Workflow> {
    const res = await this.pool.query<WorkflowRow>('SELECT * FROM reshard_workflows WHERE id = $1', [id]);
    const row = res.rows[0];
    if (!row) throw new ReshardInputError('UNKNOWN_WORKFLOW', `no reshard workflow "${id}" (see \`tessera reshard status\`)`);
    return fromRow(row);
  }

  /** Workflows that are not finished. */
  async active(): Promise<Workflow[]> {
    const res = await this.pool.query<WorkflowRow>('SELECT * FROM reshard_workflows WHERE NOT (phase = ANY($1)) ORDER BY created_at', [FINAL_PHASES]);
    return res.rows.map(fromRow);
  }

  /**
   * Stores new workflows (phase `prepare`) in one transaction, refusing any
   * whose range overlaps a range another unfinished workflow is moving.
   */
  async create(items: NewWorkflow[]): Promise<Workflow[]> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [CREATE_LOCK]);
      const active = (await client.query<WorkflowRow>('SELECT * FROM reshard_workflows WHERE NOT (phase = ANY($1))', [FINAL_PHASES])).rows.map(fromRow);
      for (const item of items) {
        const busy = active.find((w) => rangesOverlap(parseKeyRange(w.range), parseKeyRange(item.range)));
        if (busy) {
          throw new ReshardInputError('RANGE_ALREADY_MOVING', `range ${item.range} overlaps ${busy.range}, which workflow ${busy.id} is moving (${busy.source} → ${busy.target}, phase ${busy.phase}); finish, roll back or abort it first`);
        }
      }
      const batch = `b-${randomBytes(4).toString('hex')}`;
      const created: Workflow[] = [];
      for (const item of items) {
        const res = await client.query<WorkflowRow>(
          `INSERT INTO reshard_workflows (id, batch, kind, source, target, range, phase, rows_total, bytes_total)
           VALUES ($1, $2, $3, $4, $5, $6, 'prepare', $7, $8) RETURNING *`,
          [`rs-${randomBytes(4).toString('hex')}`, batch, item.kind, item.source, item.target, item.range, item.rowsTotal, item.bytesTotal],
        );
        created.push(fromRow(res.rows[0] as WorkflowRow));
      }
      await client.query('COMMIT');
      return created;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Updates some fields; a final phase also sets `finished_at`. */
  async update(id: string, patch: WorkflowPatch): Promise<Workflow> {
    const sets: string[] = [];
    const values: unknown[] = [id];
    for (const [key, value] of Object.entries(patch) as [keyof WorkflowPatch, unknown][]) {
      if (value === undefined) continue;
      values.push(value !== null && typeof value === 'object' && !(value instanceof Date) ? JSON.stringify(value) : value);
      sets.push(`${COLUMNS[key]} = $${values.length}`);
    }
    if (patch.phase && FINAL_PHASES.includes(patch.phase)) sets.push('finished_at = now()');
    sets.push('updated_at = now()');
    const res = await this.pool.query<WorkflowRow>(`UPDATE reshard_workflows SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, values);
    const row = res.rows[0];
    if (!row) throw new ReshardInputError('UNKNOWN_WORKFLOW', `no reshard workflow "${id}"`);
    return fromRow(row);
  }
}
