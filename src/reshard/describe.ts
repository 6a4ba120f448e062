/** Human-readable text of workflows for `reshard status`, and the live replication lag of one. */
import type { CatalogStore } from '../catalog/store.js';
import { shardEndpoints, withClient } from './shard-db.js';
import type { Workflow } from './workflow.js';
import { FINAL_PHASES, replicationNames } from './workflow.js';

/** Bytes of source WAL the target has not confirmed yet; null when no stream runs. */
export async function workflowLag(catalog: CatalogStore, wf: Workflow): Promise<number | null> {
  if (FINAL_PHASES.includes(wf.phase) || wf.phase === 'prepare') return null;
  try {
    const src = await shardEndpoints(catalog, wf.source);
    return await withClient(src.primaryUrl, 'tessera-reshard-status', async (c) => {
      const res = await c.query<{ lag: string | null }>(
        'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag FROM pg_replication_slots WHERE slot_name = $1',
        [replicationNames(wf.id).forward],
      );
      const lag = res.rows[0]?.lag;
      return lag == null ? null : Number(lag);
    });
  } catch {
    return null;
  }
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MB`;

/** One line per workflow. */
export function summaryLine(wf: Workflow): string {
  const window = wf.cutover ? `, window ${wf.cutover.windowMs} ms` : '';
  return `${wf.id}  ${wf.kind.padEnd(9)} ${wf.range.padEnd(22)} ${wf.source} → ${wf.target}  ${wf.phase}${window}${wf.error ? `  (error: ${wf.error})` : ''}`;
}

/** The full report of one workflow. */
export function describeWorkflow(wf: Workflow, lagBytes: number | null): string {
  const lines = [`workflow ${wf.id} (${wf.kind}, batch ${wf.batch})`, `  range     ${wf.range}: ${wf.source} → ${wf.target}`, `  phase     ${wf.phase}`];
  if (wf.copyStartedAt) {
    const end = wf.copyDoneAt ?? new Date();
    const secs = Math.max(0.001, (end.getTime() - wf.copyStartedAt.getTime()) / 1000);
    lines.push(`  copy      ${wf.rowsCopied}/${wf.rowsTotal} rows (${mb(wf.bytesTotal)} planned), ${(wf.rowsCopied / secs).toFixed(0)} rows/s${wf.copyDoneAt ? `, done in ${secs.toFixed(1)} s` : ''}`);
  }
  if (lagBytes !== null) lines.push(`  lag       ${lagBytes} bytes of source WAL not yet applied on the target`);
  if (wf.verify) {
    const v = wf.verify;
    lines.push(`  verify    ${v.ok ? 'OK' : 'DIFFERENCES'} at ${v.at} (${v.subRanges} sub-ranges, ${v.rechecks} rechecks, ${v.ms} ms)`);
    for (const t of v.tables) {
      lines.push(`            ${t.table.padEnd(13)} source ${t.sourceRows} / target ${t.targetRows} rows; matching ${t.matchingRanges}, mismatched ${t.mismatched}, extra on source ${t.extraOnSource}, extra on target ${t.extraOnTarget}`);
    }
  }
  if (wf.cutover) {
    const c = wf.cutover;
    lines.push(`  cutover   write window ${c.windowMs} ms (fence ${c.fenceMs}, catch-up ${c.catchUpMs}, claim ${c.claimMs}, publish ${c.publishMs}) at ${c.fenceLsn}${c.resumed ? ' [finished by resume]' : ''}; map v${wf.mapVersionBefore} → v${wf.mapVersionAfter}`);
  }
  if (wf.finish) lines.push(`  finish    ${JSON.stringify(wf.finish)}`);
  if (wf.phase === 'switched') lines.push(`  next      \`tessera reshard cleanup ${wf.id}\` (or \`rollback ${wf.id}\` to switch back)`);
  if (wf.error) lines.push(`  error     ${wf.error}`);
  return lines.join('\n');
}
