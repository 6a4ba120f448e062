/**
 * `reshard plan`: turns a request (split, merge, move, add-shard) into moves
 * of one ksid range each, against the catalog's current shard map, and checks
 * every one before anything is stored. A plan changes nothing.
 */
import type pg from 'pg';
import type { CatalogStore } from '../catalog/store.js';
import type { KeyRange } from '../routing/keyrange.js';
import { KSID_END, formatKeyRange, ksidFromSql, ksidHex, parseKeyRange, rangesOverlap } from '../routing/keyrange.js';
import { ShardMap } from '../routing/shard-map.js';
import { ownedRanges } from '../db/fence.js';
import { sqlState } from '../db/errors.js';
import { ReshardInputError } from './errors.js';
import { ownerOfRange } from './map-edit.js';
import { rangeParams, rangePredicate } from './range-sql.js';
import { connectShard, shardEndpoints } from './shard-db.js';
import { rangeSizes, totals, type TableSize } from './stats.js';
import type { WorkflowKind } from './workflow.js';
import type { WorkflowStore } from './workflow-store.js';

/** What the operator asked for. */
export type PlanRequest =
  | { kind: 'split'; shard: string; to: string; at?: bigint }
  | { kind: 'merge'; into: string; from: string }
  | { kind: 'move'; range: string; to: string }
  | { kind: 'add-shard'; name: string; primary?: string; replicas?: string[] };

/** One range moving from one shard to another. */
export interface Move {
  kind: WorkflowKind;
  source: string;
  target: string;
  range: KeyRange;
  sizes: TableSize[];
  rows: number;
  bytes: number;
}

/** A checked plan. */
export interface Plan {
  mapVersion: number;
  strategy: string;
  moves: Move[];
  /** Rough duration of copy + verify, from the assumed rates below. */
  estimatedSeconds: number;
  /** A shard the plan would register in the catalog on `--apply` (add-shard with --primary). */
  register?: { name: string; primaryUrl: string; replicaUrls: string[] };
}

// Conservative rates of logical-replication initial copy on a small local
// stack; only for the estimate shown by `plan`.
const ASSUMED_ROWS_PER_S = 20_000;
const ASSUMED_BYTES_PER_S = 10 * 1024 * 1024;

/** Loads the current shard map. */
export async function currentMap(store: CatalogStore): Promise<ShardMap> {
  const rec = await store.latestMap();
  if (!rec) throw new ReshardInputError('UNKNOWN_SHARD', 'the catalog has no shard map yet: run `tessera migrate` first');
  return ShardMap.fromRecord(rec);
}

function requireInMap(map: ShardMap, shard: string): void {
  if (!map.shards().includes(shard)) {
    throw new ReshardInputError('UNKNOWN_SHARD', `unknown shard "${shard}": it owns no range in shard map v${map.version} (shards: ${map.shards().join(', ')})`);
  }
}

function parseRange(text: string): KeyRange {
  try {
    return parseKeyRange(text);
  } catch (err) {
    throw new ReshardInputError('BAD_RANGE', (err as Error).message);
  }
}

/** Median user ksid in `range` on a shard (the split point of a range-strategy shard). */
async function medianKsid(db: pg.ClientBase, range: KeyRange): Promise<bigint | null> {
  const res = await db.query<{ k: string | null }>(
    `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ksid)::text AS k FROM users WHERE ${rangePredicate(1)}`,
    rangeParams(range),
  );
  const k = res.rows[0]?.k;
  return k == null ? null : ksidFromSql(k);
}

/** The ksid above which `rows` users of `range` lie (so `[k, hi)` holds about that many). */
async function ksidWithRowsAbove(db: pg.ClientBase, range: KeyRange, rows: number): Promise<bigint | null> {
  const res = await db.query<{ k: string }>(
    `SELECT ksid::text AS k FROM users WHERE ${rangePredicate(1)} ORDER BY ksid DESC OFFSET $3 LIMIT 1`,
    [...rangeParams(range), Math.max(0, rows - 1)],
  );
  const k = res.rows[0]?.k;
  return k == null ? null : ksidFromSql(k);
}

async function usersIn(db: pg.ClientBase, range: KeyRange): Promise<number> {
  const res = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM users WHERE ${rangePredicate(1)}`, rangeParams(range));
  return Number(res.rows[0]?.n ?? 0);
}

async function withShard<T>(store: CatalogStore, name: string, what: 'source' | 'target', fn: (db: pg.Client) => Promise<T>, url?: string): Promise<T> {
  const primaryUrl = url ?? (await shardEndpoints(store, name)).primaryUrl;
  const db = await connectShard(name, primaryUrl, what);
  try {
    return await fn(db);
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** Turns the request into moves (ranges only; sizes are filled in by {@link buildPlan}). */
async function movesFor(store: CatalogStore, map: ShardMap, req: PlanRequest): Promise<{ kind: WorkflowKind; source: string; target: string; range: KeyRange }[]> {
  switch (req.kind) {
    case 'split': {
      requireInMap(map, req.shard);
      const ranges = map.rangesOf(req.shard);
      if (ranges.length !== 1) throw new ReshardInputError('BAD_RANGE', `${req.shard} owns ${ranges.length} ranges; use --move <range> --to <shard> for one of them`);
      const whole = ranges[0] as KeyRange;
      let at = req.at;
      if (at === undefined) {
        // hash spreads rows evenly over ksids: halve the range. range (time
        // ordered) does not: split at the median row.
        at = map.strategy === 'hash' ? whole.lo + (whole.hi - whole.lo) / 2n : ((await withShard(store, req.shard, 'source', (db) => medianKsid(db, whole))) ?? whole.lo + (whole.hi - whole.lo) / 2n);
      }
      if (at <= whole.lo || at >= whole.hi) {
        throw new ReshardInputError('BAD_RANGE', `split point ${ksidHex(at)} is not inside ${req.shard}'s range ${formatKeyRange(whole)}: the moving range would be empty`);
      }
      return [{ kind: 'split', source: req.shard, target: req.to, range: { lo: at, hi: whole.hi } }];
    }
    case 'merge': {
      requireInMap(map, req.from);
      requireInMap(map, req.into);
      return map.rangesOf(req.from).map((range) => ({ kind: 'merge' as const, source: req.from, target: req.into, range }));
    }
    case 'move': {
      const range = parseRange(req.range);
      return [{ kind: 'move', source: ownerOfRange(map, range), target: req.to, range }];
    }
    case 'add-shard': {
      if (map.shards().includes(req.name)) throw new ReshardInputError('BAD_RANGE', `shard "${req.name}" already owns ranges in shard map v${map.version}; add-shard needs a new, empty shard`);
      const shards = map.shards();
      const counts = new Map<string, number>();
      for (const s of shards) counts.set(s, await withShard(store, s, 'source', async (db) => {
        let n = 0;
        for (const r of map.rangesOf(s)) n += await usersIn(db, r);
        return n;
      }));
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      const share = Math.floor(total / (shards.length + 1));
      const out: { kind: WorkflowKind; source: string; target: string; range: KeyRange }[] = [];
      for (const s of shards) {
        const last = map.rangesOf(s).at(-1) as KeyRange;
        let lo: bigint | null;
        if (total === 0) {
          // Nothing to balance by: give the new shard an equal slice of keyspace.
          lo = last.hi - (last.hi - last.lo) / BigInt(shards.length + 1);
        } else {
          const excess = (counts.get(s) ?? 0) - share;
          if (excess <= 0) continue;
          lo = await withShard(store, s, 'source', (db) => ksidWithRowsAbove(db, last, excess));
        }
        if (lo === null || lo <= last.lo) continue;
        out.push({ kind: 'add-shard', source: s, target: req.name, range: { lo, hi: last.hi } });
      }
      if (out.length === 0) throw new ReshardInputError('BAD_RANGE', 'add-shard: nothing to move (the shards hold too few rows to balance)');
      return out;
    }
  }
}

/**
 * Checks the target can take `range`: reachable, not owning any of it, and
 * holding no rows in it (a leftover of an earlier, unfinished move).
 */
async function checkTarget(db: pg.ClientBase, target: string, range: KeyRange): Promise<void> {
  let owned: { lo: string; hi: string | null }[] = [];
  try {
    owned = await ownedRanges(db);
  } catch (err) {
    if (sqlState(err) !== '42P01') throw err; // no schema yet: owns nothing
  }
  for (const o of owned) {
    const r = { lo: ksidFromSql(o.lo), hi: o.hi === null ? KSID_END : ksidFromSql(o.hi) };
    if (rangesOverlap(r, range)) throw new ReshardInputError('TARGET_NOT_EMPTY', `target ${target} already owns ${formatKeyRange(r)}, which overlaps ${formatKeyRange(range)}`);
  }
  const rows = totals(await rangeSizes(db, range)).rows;
  if (rows > 0) {
    throw new ReshardInputError('TARGET_NOT_EMPTY', `target ${target} already holds ${rows} rows in ${formatKeyRange(range)} (left over from an earlier move?); delete them or pick another target`);
  }
}

/** Builds and checks a plan. Stores nothing and changes nothing. */
export async function buildPlan(store: CatalogStore, workflows: WorkflowStore, req: PlanRequest): Promise<Plan> {
  const map = await currentMap(store);
  let register: Plan['register'];
  const known = new Set((await store.shards()).map((s) => s.name));
  if (req.kind === 'add-shard') {
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(req.name)) throw new ReshardInputError('UNKNOWN_SHARD', `invalid shard name "${req.name}"`);
    if (req.primary) register = { name: req.name, primaryUrl: req.primary, replicaUrls: req.replicas ?? [] };
    else if (!known.has(req.name)) throw new ReshardInputError('UNKNOWN_SHARD', `unknown shard "${req.name}": give --primary <dsn> (and --replica <dsn>…), or create it with \`tessera shard add\``);
  }
  const raw = await movesFor(store, map, req);
  const active = await workflows.active();
  const moves: Move[] = [];
  for (const m of raw) {
    if (m.source === m.target) throw new ReshardInputError('SAME_SHARD', `source and target are both ${m.source}`);
    if (!(register && m.target === register.name) && !known.has(m.target)) {
      throw new ReshardInputError('UNKNOWN_SHARD', `unknown target shard "${m.target}" (the catalog knows: ${[...known].join(', ')}); \`tessera shard add\` creates one`);
    }
    if (m.range.lo >= m.range.hi) throw new ReshardInputError('BAD_RANGE', `range ${formatKeyRange(m.range)} is empty`);
    const owner = ownerOfRange(map, m.range);
    if (owner !== m.source) throw new ReshardInputError('RANGE_NOT_OWNED', `${m.source} does not own ${formatKeyRange(m.range)} (${owner} does)`);
    const busy = active.find((w) => rangesOverlap(parseKeyRange(w.range), m.range));
    if (busy) {
      throw new ReshardInputError('RANGE_ALREADY_MOVING', `range ${formatKeyRange(m.range)} overlaps ${busy.range}, which workflow ${busy.id} is moving (${busy.source} → ${busy.target}, phase ${busy.phase})`);
    }
    const targetUrl = register && m.target === register.name ? register.primaryUrl : undefined;
    await withShard(store, m.target, 'target', (db) => checkTarget(db, m.target, m.range), targetUrl);
    const sizes = await withShard(store, m.source, 'source', (db) => rangeSizes(db, m.range));
    const t = totals(sizes);
    moves.push({ ...m, sizes, rows: t.rows, bytes: t.bytes });
  }
  const rows = moves.reduce((a, m) => a + m.rows, 0);
  const bytes = moves.reduce((a, m) => a + m.bytes, 0);
  const estimatedSeconds = Math.max(rows / ASSUMED_ROWS_PER_S, bytes / ASSUMED_BYTES_PER_S) * 1.5 + 2 * moves.length;
  return { mapVersion: map.version, strategy: map.strategy, moves, estimatedSeconds, ...(register && { register }) };
}

/** Parses `--at`: 1 to 16 hex digits, read as the leading bytes of the ksid (Vitess style). */
export function parseKsidArg(text: string): bigint {
  if (!/^[0-9a-fA-F]{1,16}$/.test(text)) throw new ReshardInputError('BAD_RANGE', `--at must be 1 to 16 hex digits (a ksid prefix), got "${text}"`);
  return BigInt(`0x${text.padEnd(16, '0')}`);
}
