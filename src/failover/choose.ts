/**
 * Which replica a failover promotes. Planned: the named one, or the one
 * closest to the primary. Emergency: the one that received the most WAL (with
 * synchronous replication it holds every acknowledged commit), refusing a
 * named one that is behind the best by more than the lag limit.
 */
import { formatLsn } from '../db/lsn.js';
import { FailoverInputError } from './errors.js';
import type { InstanceRef } from './host.js';
import { position, type Position } from './pg-ops.js';

/** A replica and where it stands (undefined when it does not answer). */
export interface Candidate {
  inst: InstanceRef;
  pos: Position | undefined;
}

/** Positions of every candidate, in parallel; unreachable ones have none. */
export async function measure(replicas: InstanceRef[]): Promise<Candidate[]> {
  return Promise.all(replicas.map(async (inst) => ({ inst, pos: await position(inst.url).catch(() => undefined) })));
}

/** Finds `--to` among the replicas by name or URL. */
export function named(replicas: InstanceRef[], to: string, shard: string): InstanceRef {
  const found = replicas.find((r) => r.name === to || r.url === to);
  if (!found) throw new FailoverInputError(`${shard} has no replica named ${to} (its replicas: ${replicas.map((r) => r.name).join(', ') || 'none'})`);
  return found;
}

const mib = (bytes: bigint) => `${(Number(bytes) / 1048576).toFixed(1)} MiB`;

/**
 * The replica to promote. `reference` is what it is measured against: the
 * primary's current position (planned) or the best replica's received
 * position (emergency).
 */
export function choose(candidates: Candidate[], opts: { to?: string; shard: string; maxLagBytes: number; force: boolean; emergency: boolean; primaryAt?: bigint }): Candidate {
  const fit = candidates.filter((c) => c.pos?.inRecovery);
  if (fit.length === 0) {
    throw new FailoverInputError(`no replica of ${opts.shard} answers as a standby (${candidates.map((c) => `${c.inst.name}: ${c.pos ? 'not in recovery' : 'unreachable'}`).join(', ')})`);
  }
  const key = (c: Candidate) => (opts.emergency ? c.pos!.received : c.pos!.replayed);
  const best = fit.reduce((a, b) => (key(b) > key(a) || (key(b) === key(a) && b.pos!.replayed > a.pos!.replayed) ? b : a));
  const chosen = opts.to === undefined ? best : fit.find((c) => c.inst.name === opts.to || c.inst.url === opts.to);
  if (!chosen) throw new FailoverInputError(`replica ${opts.to} of ${opts.shard} does not answer as a standby; it cannot be promoted`);
  const reference = opts.emergency ? key(best) : (opts.primaryAt ?? key(best));
  const behind = reference > chosen.pos!.replayed ? reference - chosen.pos!.replayed : 0n;
  const missing = opts.emergency && key(best) > chosen.pos!.received ? key(best) - chosen.pos!.received : 0n;
  if (!opts.force && (behind > BigInt(opts.maxLagBytes) || missing > 0n)) {
    const why = missing > 0n
      ? `it received ${mib(missing)} less WAL than ${best.inst.name} (${formatLsn(chosen.pos!.received)} < ${formatLsn(key(best))}): promoting it would lose those commits`
      : `it is ${mib(behind)} behind (limit ${mib(BigInt(opts.maxLagBytes))})`;
    const other = opts.to !== undefined && best !== chosen ? `, or leave out --to to promote ${best.inst.name}` : '';
    throw new FailoverInputError(`${chosen.inst.name} should not be promoted: ${why}; pass --force to promote it anyway${other}`);
  }
  return chosen;
}
