/**
 * `tessera shard failover`: moves a shard's primary role to a replica.
 *
 * Planned (the primary is alive): fence its writes (writers wait, as in a
 * reshard cutover), stop it cleanly so that the replica receives its last
 * WAL, wait until the replica has replayed it, promote the replica, point
 * the other replicas at it, publish the new primary (apps follow through
 * NOTIFY within milliseconds and their waiting writes go through), then bring
 * the old primary back as a standby of the new one.
 *
 * Emergency (the primary is gone): pick the replica that received the most
 * WAL, mark the old primary's data directory a standby so that it can never
 * take a write again however it is started, promote, re-point, publish. The
 * old primary rejoins later (`tessera shard rejoin`).
 *
 * Every phase is recorded in the catalog before it runs and is idempotent, so
 * a CLI killed at any point resumes where it stopped when run again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CatalogStore } from '../catalog/store.js';
import { formatLsn, parseLsn } from '../db/lsn.js';
import { inSpan } from '../observability/tracing.js';
import type { ShardEndpoints } from '../db/pools.js';
import { redact } from '../db/redact.js';
import { choose, measure, named } from './choose.js';
import { FailoverInputError } from './errors.js';
import { FailoverHistory, type FailoverPhase, type FailoverRecord } from './history.js';
import type { InstanceRef, ShardHost, ShardInstances } from './host.js';
import { fenceWrites, HeldConnections, position, promote, reachable, setSyncStandbys, streamingStandbys, unfenceWrites, waitReplayed, withPg } from './pg-ops.js';

/** Options of {@link failover}. */
export interface FailoverOptions {
  shard: string;
  /** The replica to promote (name or URL); default: the best one. */
  to?: string;
  emergency?: boolean;
  /** Promote a lagging replica, or fail over a primary that still answers in an emergency. */
  force?: boolean;
  /** A replica further behind than this is not promoted without `force`. @default 16 MiB */
  maxLagBytes?: number;
  catalog: CatalogStore;
  host: ShardHost;
  log: (line: string) => void;
  /** Pause after each phase (fault-injection tests only). */
  stepDelayMs?: number;
}

/** What {@link failover} did. */
export interface FailoverResult {
  record: FailoverRecord;
  /** It continued a failover a killed CLI had left under way. */
  resumed: boolean;
}

interface Ctx {
  o: FailoverOptions;
  history: FailoverHistory;
  rec: FailoverRecord;
  ep: ShardEndpoints;
  old: InstanceRef;
  target: InstanceRef;
  /** The other replicas (they follow the new primary). */
  others: InstanceRef[];
  /** Connections to the old primary and the target, open across the write pause's steps. */
  held: HeldConnections;
}

const DEFAULT_MAX_LAG = 16 * 1024 * 1024;

async function activeReshard(catalog: CatalogStore, shard: string): Promise<string | undefined> {
  const { rows } = await catalog.pool.query<{ id: string }>(
    "SELECT id FROM reshard_workflows WHERE (source = $1 OR target = $1) AND phase NOT IN ('done', 'rolled_back', 'aborted') LIMIT 1",
    [shard],
  );
  return rows[0]?.id;
}

function instancesOf(o: FailoverOptions, ep: ShardEndpoints): ShardInstances {
  const inst = o.host.instances(o.shard);
  if (!inst) throw new FailoverInputError(`${o.shard} is in the catalog but its instances are not run by this stack`);
  if (inst.primary.url !== ep.primaryUrl && !inst.replicas.some((r) => r.url === ep.primaryUrl)) {
    throw new FailoverInputError(`the catalog says ${o.shard}'s primary is ${redact(ep.primaryUrl)}, which is none of this stack's instances`);
  }
  return inst;
}

/** Runs (or resumes) a failover of `o.shard`; see the module comment. One trace, its steps child spans (tracing on only). */
export function failover(o: FailoverOptions): Promise<FailoverResult> {
  return inSpan(`failover ${o.shard}`, { 'tessera.shard': o.shard, 'tessera.failover.kind': o.emergency ? 'emergency' : 'planned' }, async (span) => {
    const result = await failoverUntraced(o);
    span?.setAttributes({ 'tessera.failover.id': result.record.id, 'tessera.failover.phase': result.record.phase, 'tessera.failover.resumed': result.resumed });
    return result;
  });
}

async function failoverUntraced(o: FailoverOptions): Promise<FailoverResult> {
  const ep = await o.catalog.shard(o.shard);
  if (!ep) {
    const known = (await o.catalog.shards()).map((s) => s.name);
    throw new FailoverInputError(`no shard ${o.shard} in the catalog (shards: ${known.join(', ') || 'none'})`);
  }
  const history = new FailoverHistory(o.catalog.pool);
  const inst = instancesOf(o, ep);
  const all = [inst.primary, ...inst.replicas];
  const byUrl = (url: string) => all.find((i) => i.url === url);
  const active = await history.active(o.shard);
  if (active) {
    if (o.emergency !== undefined && (active.kind === 'emergency') !== o.emergency) {
      throw new FailoverInputError(`a ${active.kind} failover of ${o.shard} is under way (phase ${active.phase}); run the same command again to finish it`);
    }
    const old = byUrl(active.oldPrimaryUrl);
    const target = byUrl(active.newPrimaryUrl);
    if (!old || !target) throw new FailoverInputError(`failover #${active.id} of ${o.shard} names instances this stack does not run`);
    if (o.to !== undefined && o.to !== target.name && o.to !== target.url) {
      throw new FailoverInputError(`failover #${active.id} of ${o.shard} is promoting ${target.name} (phase ${active.phase}); run it again without --to to finish it`);
    }
    o.log(`resuming failover #${active.id} of ${o.shard} (${active.kind}) at phase ${active.phase}: ${old.name} → ${target.name}`);
    const ctx: Ctx = { o, history, rec: active, ep, old, target, others: all.filter((i) => i !== old && i !== target && ep.replicaUrls.concat(ep.primaryUrl).includes(i.url)), held: new HeldConnections() };
    await run(ctx);
    return { record: (await history.list(o.shard)).find((r) => r.id === active.id)!, resumed: true };
  }

  if (ep.state !== 'serving') throw new FailoverInputError(`${o.shard} is ${ep.state} but no failover is recorded as under way; check \`tessera shard history ${o.shard}\``);
  const reshard = await activeReshard(o.catalog, o.shard);
  if (reshard) throw new FailoverInputError(`reshard workflow ${reshard} involves ${o.shard}; finish or abort it first (its replication slots live on the primary)`);
  const old = byUrl(ep.primaryUrl)!;
  // Only replicas the catalog lists serve (a demoted primary that has not rejoined is not one).
  const replicas = all.filter((i) => ep.replicaUrls.includes(i.url));
  if (replicas.length === 0) throw new FailoverInputError(`${o.shard} has no replica to promote`);
  if (o.to !== undefined) named(replicas, o.to, o.shard);

  const emergency = o.emergency === true;
  const primaryUp = await reachable(old.url);
  if (!emergency && !primaryUp) throw new FailoverInputError(`${o.shard}'s primary ${old.name} does not answer: use --emergency`);
  if (emergency && primaryUp && !o.force) {
    throw new FailoverInputError(`${o.shard}'s primary ${old.name} still answers: use a planned failover (without --emergency), or --force to promote a replica anyway`);
  }
  const primaryAt = primaryUp ? (await position(old.url)).received : undefined;
  const chosen = choose(await measure(replicas), {
    ...(o.to !== undefined && { to: o.to }),
    shard: o.shard,
    maxLagBytes: o.maxLagBytes ?? DEFAULT_MAX_LAG,
    force: o.force === true,
    emergency,
    ...(primaryAt !== undefined && { primaryAt }),
  });
  const rec = await history.start({
    shard: o.shard, kind: emergency ? 'emergency' : 'planned', oldPrimaryUrl: old.url, newPrimaryUrl: chosen.inst.url,
    epochBefore: ep.epoch ?? 1, phase: emergency ? 'elect' : 'fence',
  });
  o.log(`failover #${rec.id} of ${o.shard} (${rec.kind}, epoch ${rec.epochBefore}): ${old.name} → ${chosen.inst.name}`);
  await run({ o, history, rec, ep, old, target: chosen.inst, others: replicas.filter((r) => r !== chosen.inst), held: new HeldConnections() });
  return { record: (await history.list(o.shard)).find((r) => r.id === rec.id)!, resumed: false };
}

const PLANNED: FailoverPhase[] = ['fence', 'catchup', 'promote', 'repoint', 'publish', 'rejoin', 'done'];
const EMERGENCY: FailoverPhase[] = ['elect', 'promote', 'repoint', 'publish', 'done'];

async function run(ctx: Ctx): Promise<void> {
  try {
    await runPhases(ctx);
  } finally {
    await ctx.held.close();
  }
}

async function runPhases(ctx: Ctx): Promise<void> {
  const phases = ctx.rec.kind === 'planned' ? PLANNED : EMERGENCY;
  let i = phases.indexOf(ctx.rec.phase);
  if (i < 0) throw new Error(`failover #${ctx.rec.id} is in phase ${ctx.rec.phase}, which a ${ctx.rec.kind} failover does not have`);
  await ctx.o.catalog.setShardState(ctx.o.shard, ctx.rec.kind === 'planned' ? 'switching' : 'electing');
  for (; phases[i] !== 'done'; i++) {
    const phase = phases[i] as keyof typeof STEPS;
    const started = Date.now();
    let detail: Record<string, unknown>;
    try {
      detail = await inSpan(`failover.${phase}`, { 'tessera.shard': ctx.o.shard, 'tessera.failover.id': ctx.rec.id }, () => STEPS[phase](ctx));
    } catch (err) {
      const promoted = phases.indexOf(phase) > phases.indexOf('promote') || (phase === 'promote' && !(await position(ctx.target.url).catch(() => undefined))?.inRecovery);
      if (!promoted) await giveUp(ctx, phase, err);
      throw new Error(`failover #${ctx.rec.id} of ${ctx.o.shard} stopped in phase ${phase}: ${(err as Error).message}. ${ctx.target.name} is the primary now; run the same command again to finish`, { cause: err });
    }
    const next = phases[i + 1]!;
    const merged = { ...detail, [`${phase}Ms`]: Date.now() - started };
    await ctx.history.advance(ctx.rec.id, next, merged);
    ctx.rec.phase = next;
    ctx.rec.detail = { ...ctx.rec.detail, ...merged };
    ctx.o.log(`  ${phase}: done in ${Date.now() - started} ms`);
    if (ctx.o.stepDelayMs) await sleep(ctx.o.stepDelayMs);
  }
}

/** Before promotion nothing has moved: the old primary serves again and the record says why it stopped. */
async function giveUp(ctx: Ctx, phase: FailoverPhase, err: unknown): Promise<void> {
  ctx.o.log(`  ${phase} failed (${(err as Error).message}); undoing: ${ctx.old.name} stays the primary`);
  if (ctx.rec.kind === 'planned') {
    if (!(await ctx.o.host.running(ctx.old))) await ctx.o.host.restorePrimary(ctx.old).catch((e: unknown) => ctx.o.log(`  could not restart ${ctx.old.name}: ${(e as Error).message}`));
    await unfenceWrites(ctx.old.url).catch(() => undefined);
  }
  await ctx.o.catalog.setShardState(ctx.o.shard, 'serving');
  await ctx.history.advance(ctx.rec.id, 'failed', {}, { error: `${phase}: ${(err as Error).message}` });
}

type Step = (ctx: Ctx) => Promise<Record<string, unknown>>;

const STEPS: Record<Exclude<FailoverPhase, 'done' | 'failed'>, Step> = {
  /**
   * Planned: no write can commit on the old primary after this returns; new
   * ones wait in the apps. The write pause starts here; what can be done
   * before it is.
   */
  async fence(ctx) {
    // A checkpoint first, while writes still flow: the shutdown checkpoint in `catchup`, inside the
    // write pause, then has little left to flush.
    await withPg(ctx.old.url, (c) => c.query('CHECKPOINT'), 60_000);
    // The target carries its primary's synchronous_standby_names (copied with its data directory),
    // naming standbys that will not stream from it: as a primary, its first commits would wait for
    // one until a reload took effect. A standby ignores the setting, so it is cleared now, outside
    // the pause (`repoint` sets the right one).
    await setSyncStandbys(ctx.target.url, [], ctx.held);
    await fenceWrites(ctx.old.url, ctx.held);
    const fencedAt = Date.now();
    // Every acknowledged write ends at or before this position: the new primary must have it all.
    const fenceLsn = (await position(ctx.old.url, ctx.held)).received;
    return { fencedAt, fenceLsn: formatLsn(fenceLsn) };
  },

  /**
   * Planned: stop the old primary cleanly, then wait until the target has
   * received and replayed all of its WAL. In a fast shutdown the walsenders
   * send everything, the shutdown checkpoint included, and exit only once
   * the standby has flushed it: the target's WAL receiver stops streaming
   * then. So this waits on the target's side, not for the old primary's
   * process (or container) to be gone.
   */
  async catchup(ctx) {
    const recorded = ctx.rec.detail.fenceLsn;
    let before = typeof recorded === 'string' ? parseLsn(recorded) : 0n;
    const now = await position(ctx.old.url, ctx.held).catch(() => undefined);
    if (now || (await ctx.o.host.running(ctx.old))) {
      if (now && !now.inRecovery && now.received > before) before = now.received;
      await ctx.o.host.stop(ctx.old, 'fast', { untilStopping: true });
    }
    // Whatever starts it from now on starts a standby of the new primary, not a second primary.
    await ctx.o.host.demote(ctx.old, ctx.target);
    const at = await settled(ctx.target.url, before, ctx.held, 30_000);
    return { oldPrimaryEndLsn: formatLsn(at) };
  },

  /** Emergency: the old primary must never take a write again, and the target must have replayed all it received. */
  async elect(ctx) {
    if (await ctx.o.host.running(ctx.old)) await ctx.o.host.stop(ctx.old, 'immediate');
    await ctx.o.host.demote(ctx.old, ctx.target);
    const pos = await position(ctx.target.url);
    const at = await waitReplayed(ctx.target.url, pos.received, 60_000);
    // The target keeps trying the lost primary: promote during its sleep between tries (see `settled`).
    await untilRetrySleep(ctx.target.url, ctx.held, RETRY_SLEEP_WAIT_MS);
    return { promotedAtLsn: formatLsn(at.replayed) };
  },

  async promote(ctx) {
    if ((await position(ctx.target.url, ctx.held)).inRecovery) await promote(ctx.target.url, ctx.held);
    // A standby copied from (or rewound to) a primary carries that primary's synchronous_standby_names,
    // naming standbys that do not stream from it: its first commits would wait for one. (A planned
    // failover cleared it in `fence` already, so the reload has taken effect by now. Not before the
    // promotion: a reload wakes the startup process, and see `settled` for why that can cost seconds.)
    await setSyncStandbys(ctx.target.url, [], ctx.held);
    // A planned failover fenced the old primary, and the new one inherited that.
    await unfenceWrites(ctx.target.url, ctx.held);
    return { promotedAt: Date.now() };
  },

  /** The other replicas follow the new primary; commits wait for one of them when the shard is synchronous. */
  async repoint(ctx) {
    for (const r of ctx.others) await ctx.o.host.repoint(r, ctx.target);
    const sync = await syncWith(ctx, ctx.others);
    return { syncStandbys: sync };
  },

  /** Apps switch to the new primary (its writes, waiting since the fence, go through now). */
  async publish(ctx) {
    const current = await ctx.o.catalog.shard(ctx.o.shard);
    let epoch = current?.epoch ?? ctx.rec.epochBefore;
    if (current?.primaryUrl !== ctx.target.url) {
      epoch = await ctx.o.catalog.publishPrimary(ctx.o.shard, ctx.rec.epochBefore, ctx.target.url, ctx.others.map((r) => r.url));
    }
    await ctx.o.host.recordRoles(ctx.o.shard, ctx.target, [...ctx.others, ctx.old], ctx.rec.kind === 'emergency' ? [ctx.old.name] : []);
    await ctx.history.advance(ctx.rec.id, ctx.rec.phase, {}, { epochAfter: epoch });
    const fencedAt = ctx.rec.detail.fencedAt as number | undefined;
    return { publishedAt: Date.now(), epochAfter: epoch, ...(fencedAt !== undefined && { writePauseMs: Date.now() - fencedAt }) };
  },

  /** Planned: the old primary comes back as a standby of the new one, and joins the replicas apps read from. */
  async rejoin(ctx) {
    const how = await rejoinInstance(ctx.o, ctx.o.shard, ctx.old, ctx.target, false);
    return { oldPrimaryRejoined: how };
  },
};

/** How long `settled` waits for the startup process's retry sleep once the WAL is in. */
const RETRY_SLEEP_WAIT_MS = 3000;

/**
 * Waits until the standby at `url`, whose primary is stopping, has the
 * primary's last WAL: its WAL receiver no longer streams (the primary's
 * walsender exits only after the standby flushed all it sent, and a stopping
 * primary takes no new connection), it received at least `atLeast` (every
 * acknowledged write) and it replayed all it received.
 *
 * Then, for a prompt promotion, until its startup process sleeps before
 * trying the primary again (wait event RecoveryRetrieveRetryInterval): it
 * restarts the WAL receiver at once after the stream ends, and a promotion
 * asked for while it waits on that receiver is carried out only after a
 * whole wal_retrieve_retry_interval (5 s; seen on PostgreSQL 18), whereas
 * one asked for during the sleep ends it. That sleep comes within
 * milliseconds (the restarted receiver is refused by the stopping primary);
 * after `RETRY_SLEEP_WAIT_MS` without it this promotes all the same.
 */
async function settled(url: string, atLeast: bigint, held: HeldConnections, timeoutMs: number): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  let inSince: number | undefined;
  for (;;) {
    const p = await position(url, held);
    if (!p.streaming && p.received >= atLeast && p.replayed >= p.received) {
      inSince ??= Date.now();
      if (p.startupWait === 'RecoveryRetrieveRetryInterval' || Date.now() - inSince >= RETRY_SLEEP_WAIT_MS) return p.replayed;
    } else {
      inSince = undefined;
    }
    if (Date.now() > deadline) {
      throw new Error(`the target replayed ${formatLsn(p.replayed)} of ${formatLsn(p.received)} received${p.streaming ? ', still streaming,' : ''} (the old primary was at ${formatLsn(atLeast)}) after ${timeoutMs / 1000} s`);
    }
    await sleep(5);
  }
}

/**
 * Waits (at most `maxMs`) until the startup process of the standby at `url`
 * sleeps before trying its primary again, when a promotion is carried out at
 * once (see `settled`).
 */
async function untilRetrySleep(url: string, held: HeldConnections, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    if ((await position(url, held)).startupWait === 'RecoveryRetrieveRetryInterval') return;
    await sleep(5);
  }
}

/**
 * Synchronous commits on the new primary wait for one of `standbys` that
 * stream from it now; none streaming means none to wait for (commits would
 * hang), so the shard runs asynchronously until one rejoins. Returns the
 * standbys waited for.
 */
async function syncWith(ctx: Ctx, standbys: InstanceRef[]): Promise<string[]> {
  if (ctx.ep.durability === 'async') {
    await setSyncStandbys(ctx.target.url, [], ctx.held);
    return [];
  }
  const deadline = Date.now() + 5000;
  let streaming: string[] = [];
  while (standbys.length > 0 && Date.now() < deadline) {
    const now = new Set(await streamingStandbys(ctx.target.url));
    streaming = standbys.filter((s) => now.has(s.slot)).map((s) => s.slot);
    if (streaming.length > 0) break;
    await sleep(50);
  }
  await setSyncStandbys(ctx.target.url, streaming, ctx.held);
  if (streaming.length === 0) ctx.o.log(`  note: no standby streams from ${ctx.target.name} yet; it commits without waiting for one until a replica rejoins`);
  return streaming;
}

/**
 * Brings a demoted (or lost) instance back as a streaming standby of the
 * shard's primary, lists it among the replicas apps read from, and makes
 * commits wait for it again when the shard is synchronous.
 */
export async function rejoinInstance(o: Pick<FailoverOptions, 'catalog' | 'host' | 'log'>, shard: string, inst: InstanceRef, primary: InstanceRef, rebuild: boolean): Promise<'followed' | 'rebuilt'> {
  if ((await o.host.running(inst)) && !(await position(inst.url).catch(() => undefined))?.inRecovery) {
    // Still a primary (an old one started by hand): stop it before it takes a write.
    await o.host.stop(inst, 'immediate');
  }
  const how = (await o.host.running(inst)) && (await streamingStandbys(primary.url)).includes(inst.slot)
    ? 'followed'
    : await o.host.rejoin(inst, primary, o.log, { rebuild });
  const ep = await o.catalog.shard(shard);
  if (ep && !ep.replicaUrls.includes(inst.url)) await o.catalog.setReplicas(shard, [...ep.replicaUrls, inst.url]);
  if (ep && ep.durability !== 'async') {
    const slots = new Set((await o.catalog.shard(shard))!.replicaUrls);
    const inst2 = o.host.instances(shard);
    const streaming = new Set(await streamingStandbys(primary.url));
    const names = (inst2?.replicas ?? []).filter((r) => slots.has(r.url) && streaming.has(r.slot)).map((r) => r.slot);
    await setSyncStandbys(primary.url, names);
  }
  return how;
}
