/**
 * `shard_failovers` in the catalog: every failover and the phase of the one
 * under way, so that a CLI killed at any point resumes (or says exactly where
 * the shard stands), and `tessera shard history` shows what happened.
 */
import type pg from 'pg';

/** Phases, in order. Planned: fence → catchup → promote → publish → repoint → rejoin → done. */
export type FailoverPhase = 'fence' | 'catchup' | 'elect' | 'promote' | 'publish' | 'repoint' | 'rejoin' | 'done' | 'failed';

/** One row of `shard_failovers`. */
export interface FailoverRecord {
  id: number;
  shard: string;
  kind: 'planned' | 'emergency';
  oldPrimaryUrl: string;
  newPrimaryUrl: string;
  epochBefore: number;
  epochAfter: number | null;
  phase: FailoverPhase;
  detail: Record<string, unknown>;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

interface Row {
  id: string;
  shard: string;
  kind: 'planned' | 'emergency';
  old_primary_url: string;
  new_primary_url: string;
  epoch_before: string;
  epoch_after: string | null;
  phase: FailoverPhase;
  detail: Record<string, unknown>;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

const toRecord = (r: Row): FailoverRecord => ({
  id: Number(r.id), shard: r.shard, kind: r.kind, oldPrimaryUrl: r.old_primary_url, newPrimaryUrl: r.new_primary_url,
  epochBefore: Number(r.epoch_before), epochAfter: r.epoch_after === null ? null : Number(r.epoch_after),
  phase: r.phase, detail: r.detail, error: r.error, startedAt: r.started_at, finishedAt: r.finished_at,
});

/** Reads and writes failover records. */
export class FailoverHistory {
  constructor(private readonly pool: pg.Pool) {}

  /** The failover under way on `shard`, if any. */
  async active(shard: string): Promise<FailoverRecord | undefined> {
    const { rows } = await this.pool.query<Row>("SELECT * FROM shard_failovers WHERE shard = $1 AND phase NOT IN ('done', 'failed')", [shard]);
    return rows[0] && toRecord(rows[0]);
  }

  /** Every failover of `shard`, oldest first. */
  async list(shard: string): Promise<FailoverRecord[]> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM shard_failovers WHERE shard = $1 ORDER BY id', [shard]);
    return rows.map(toRecord);
  }

  /** Starts a record; fails if another failover of the shard is under way (unique index). */
  async start(r: { shard: string; kind: FailoverRecord['kind']; oldPrimaryUrl: string; newPrimaryUrl: string; epochBefore: number; phase: FailoverPhase }): Promise<FailoverRecord> {
    const { rows } = await this.pool.query<Row>(
      `INSERT INTO shard_failovers (shard, kind, old_primary_url, new_primary_url, epoch_before, phase)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [r.shard, r.kind, r.oldPrimaryUrl, r.newPrimaryUrl, r.epochBefore, r.phase],
    );
    return toRecord(rows[0]!);
  }

  /** Moves a record to `phase`, merging `detail` into what it holds. */
  async advance(id: number, phase: FailoverPhase, detail: Record<string, unknown> = {}, extra: { epochAfter?: number; error?: string } = {}): Promise<void> {
    await this.pool.query(
      `UPDATE shard_failovers SET phase = $2, detail = detail || $3::jsonb, updated_at = now(),
         epoch_after = COALESCE($4, epoch_after), error = COALESCE($5, error),
         finished_at = CASE WHEN $2 IN ('done', 'failed') THEN now() ELSE finished_at END
       WHERE id = $1`,
      [id, phase, JSON.stringify(detail), extra.epochAfter ?? null, extra.error ?? null],
    );
  }
}
