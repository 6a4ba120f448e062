/**
 * One benchmark run: fresh stack → seed → empty shard-c → raw COPY baseline
 * → `reshard plan --split shard-a --to shard-c --apply --cleanup` under a
 * writer and readers → numbers. The stack is torn down whatever happens.
 */
import { cpus, loadavg } from 'node:os';
import { CatalogStore } from '../../src/catalog/store.js';
import type { StackInfo } from '../../src/cluster/index.js';
import { formatKeyRange, parseKeyRange, rangeContains, type KeyRange } from '../../src/routing/keyrange.js';
import { buildPlan, WorkflowStore } from '../../src/reshard/index.js';
import { rangeParams, rangePredicate } from '../../src/reshard/range-sql.js';
import { gapAround, longestGap, startLoad, type Load } from './load.js';
import type { BenchOptions } from './options.js';
import { withClient } from './pg-copy.js';
import { rawCopy } from './raw-copy.js';
import { WINDOW_GOAL_MS, type BenchResults } from './results.js';
import { seed } from './seed.js';
import { addEmptyShard, startStack, stopStack } from './stack.js';
import { mapPublishedAt, reshardCli, workflowStatus, type CliResult } from './tessera.js';
import { clientToken } from '../../src/auth/stack-token.js';

const SOURCE = 'shard-a';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The range `--split shard-a` will move, from the same planner the CLI uses (a plan stores nothing). */
async function plannedRange(catalogUrl: string, target: string): Promise<KeyRange> {
  const catalog = new CatalogStore(catalogUrl, { applicationName: 'tessera-bench-reshard' });
  try {
    const plan = await buildPlan(catalog, new WorkflowStore(catalog.pool), { kind: 'split', shard: SOURCE, to: target });
    const move = plan.moves[0];
    if (plan.moves.length !== 1 || !move) throw new Error(`expected one move, the plan has ${plan.moves.length}`);
    return move.range;
  } finally {
    await catalog.close();
  }
}

/** Rows of the range over the three sharded tables on one primary. */
async function rowsInRange(url: string, range: KeyRange): Promise<number> {
  return withClient(url, 'tessera-bench-reshard-check', async (c) => {
    let n = 0;
    for (const t of ['users', 'documents', 'email_lookup']) {
      const r = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t} WHERE ${rangePredicate(1)}`, rangeParams(range));
      n += Number(r.rows[0]?.n ?? 0);
    }
    return n;
  });
}

function primaryUrl(stack: StackInfo, shard: string, catalogShards: { name: string; primaryUrl: string }[]): string {
  const url = stack.shards.find((s) => s.name === shard)?.primary.url ?? catalogShards.find((s) => s.name === shard)?.primaryUrl;
  if (!url) throw new Error(`no primary for ${shard}`);
  return url;
}

/** The CLI's split, with the writer and readers running from before it starts until after it ends. */
async function reshardUnderLoad(stack: StackInfo, target: string, ids: string[], o: BenchOptions): Promise<{ cli: CliResult; stats: Awaited<ReturnType<Load['stop']>> }> {
  const token = await clientToken({ dir: stack.dir, scopes: ['users:read', 'users:write'], clientId: 'bench-reshard', ttlSeconds: 24 * 3600 });
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const load = startLoad({ baseUrl: stack.nginx.url, headers, ids, writesPerSecond: o.writesPerSecond, readers: o.readers });
  let cli: CliResult | undefined;
  let failure: unknown;
  try {
    await sleep(1500); // the load settles (connections, caches) before the move starts
    o.log(`tessera reshard plan --split ${SOURCE} --to ${target} --apply --cleanup (under load)`);
    cli = await reshardCli(['plan', '--split', SOURCE, '--to', target, '--apply', '--cleanup'], stack.catalog.url, o.short ? 150_000 : 900_000);
    await sleep(1000); // writes keep landing on the new owner afterwards
  } catch (err) {
    failure = err;
  }
  const stats = await load.stop(); // always: no request may outlive the run
  if (failure !== undefined || !cli) throw failure;
  return { cli, stats };
}

export async function runReshardBench(o: BenchOptions): Promise<BenchResults> {
  const log = o.log;
  try {
    log(`starting a stack in ${o.stack.dir} (2 hash shards, no replicas, 1 app; NGINX :${o.stack.port})`);
    const stack = await startStack(o.stack, log);
    log(`seeding ${o.rows} users, ${o.rows} documents and their email-lookup rows straight into the shards`);
    const seeded = await seed(stack, o.rows);
    log(`seeded in ${seeded.seconds.toFixed(1)} s`);
    const target = await addEmptyShard(o.stack, log);
    const shards = await withCatalog(stack.catalog.url, (c) => c.shards());
    const [srcUrl, dstUrl] = [primaryUrl(stack, SOURCE, shards), primaryUrl(stack, target, shards)];

    const range = await plannedRange(stack.catalog.url, target);
    const ids = seeded.users.filter((u) => rangeContains(range, u.ksid)).map((u) => u.id);
    log(`moving range ${formatKeyRange(range)}: ${ids.length} users; raw COPY baseline ${SOURCE} → ${target}`);
    const raw = await rawCopy(srcUrl, dstUrl, range);
    log(`raw COPY: ${raw.rows} rows, ${(raw.bytes / 1024 / 1024).toFixed(2)} MB in ${raw.seconds.toFixed(2)} s`);

    const { cli, stats } = await reshardUnderLoad(stack, target, ids, o);
    if (cli.code !== 0) throw new Error(`reshard failed (exit ${cli.code}):\n${cli.stdout}\n${cli.stderr.slice(-4000)}`);

    const wf = await workflowStatus(stack.catalog.url);
    if (parseKeyRange(wf.range).lo !== range.lo) throw new Error(`the workflow moved ${wf.range}, not the planned range`);
    if (!wf.cutover || !wf.copyStartedAt || !wf.copyDoneAt || wf.mapVersionAfter === null) throw new Error(`workflow ${wf.id} has no copy or cutover record (phase ${wf.phase})`);
    const copySeconds = (Date.parse(wf.copyDoneAt) - Date.parse(wf.copyStartedAt)) / 1000;
    const publishedAt = await mapPublishedAt(stack.catalog.url, wf.mapVersionAfter);
    const gap = longestGap(stats.writer.successes);
    const atCutover = gapAround(stats.writer.successes, publishedAt);
    const tessera = {
      rowsCopied: wf.rowsCopied,
      copySeconds,
      rowsPerS: wf.rowsCopied / copySeconds,
      mbPerS: raw.bytes / 1024 / 1024 / copySeconds,
      mbPerSByPlannedBytes: wf.bytesTotal / 1024 / 1024 / copySeconds,
      timingSource: 'workflow record, copyStartedAt → copyDoneAt (subscription created → every table synced and streaming, as polled every 250 ms)',
      verifyMs: wf.verify?.ms ?? null,
      verifyOk: wf.verify?.ok ?? false,
    };
    const { successes: _s, ...writer } = stats.writer;
    const [onTarget, onSource] = [await rowsInRange(dstUrl, range), await rowsInRange(srcUrl, range)];
    return {
      generatedAt: new Date().toISOString(),
      machine: {
        cpus: cpus().length, loadAvg1m: loadavg()[0] ?? 0, node: process.version,
        note: 'the machine is shared with other work, so absolute numbers are noisy; the ratio to the raw COPY of the same run is the comparable figure',
      },
      config: { rows: o.rows, short: o.short, writesPerSecond: o.writesPerSecond, readers: o.readers },
      seed: { users: seeded.rows.users, documents: seeded.rows.documents, emailLookup: seeded.rows.email_lookup, seconds: seeded.seconds },
      move: { workflow: wf.id, range: wf.range, source: SOURCE, target, usersInRange: ids.length, phase: wf.phase, cliSeconds: cli.ms / 1000 },
      rawCopy: raw,
      tessera,
      ratio: { rowsPerS: tessera.rowsPerS / raw.rowsPerS, mbPerS: tessera.mbPerS / raw.mbPerS },
      window: {
        goalMs: WINDOW_GOAL_MS,
        recordedMs: wf.cutover.windowMs,
        recordedMet: wf.cutover.windowMs < WINDOW_GOAL_MS,
        cutover: wf.cutover,
        writerLongestGapMs: gap.ms,
        writerMet: gap.ms < WINDOW_GOAL_MS,
        writerGapAtCutoverMs: atCutover?.ms ?? null,
        writerTickMs: 1000 / o.writesPerSecond,
      },
      writer,
      reader: stats.reader,
      checks: { rowsOnTargetAfter: onTarget, rowsInRangeOnSourceAfter: onSource, expectedRows: raw.rows, ok: onTarget === raw.rows && onSource === 0 },
    };
  } finally {
    if (o.keep) log(`--keep: the stack stays up (npm run down -- --dir ${o.stack.dir} --purge)`);
    else await stopStack(o.stack, log);
  }
}

async function withCatalog<T>(url: string, fn: (c: CatalogStore) => Promise<T>): Promise<T> {
  const c = new CatalogStore(url, { applicationName: 'tessera-bench-reshard' });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

