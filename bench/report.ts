/**
 * Turns measured cases into ratios, verdicts and the two outputs:
 * `bench/results.json` (everything, for tools and the integration test) and
 * `bench/results.md` (the table the README quotes).
 */
import { CASES, caseDef, type CaseId } from './cases.js';
import type { Pinning } from './cpu.js';
import type { Measured } from './load.js';
import type { ReadCounts } from './tiers.js';

export interface CaseResult extends Measured {
  id: CaseId;
  /** Share of reads per tier/source, from the apps' counters (read cases only). */
  tiers: ReadCounts | null;
  /** Database loads per request (misses after single-flight), read cases only. */
  dbLoadsPerRequest: number | null;
  /** Settings the app(s) ran with beyond the defaults. */
  appEnv?: Record<string, string>;
  /** Write cases: each shard primary's share of the primaries' CPU time (the hash should spread writes evenly). */
  primaryShares?: Record<string, number>;
}

export interface MemorySample {
  app: string;
  when: string;
  rssMiB: number | null;
  under300MiB: boolean | null;
}

export interface RunInfo {
  mode: 'full' | 'short';
  users: number;
  zipfS: number;
  warmupS: number;
  durationS: number;
  connections: number;
  writeConnections: number;
  startedAt: string;
  finishedAt: string;
  machine: { nproc: number; cpuModel: string; node: string; loadavgStart: string; loadavgEnd: string };
  pinning: Pinning;
}

export interface RowVerdict {
  id: CaseId;
  title: string;
  kind: 'ceiling' | 'tessera';
  vs: CaseId;
  ratio: number | null;
  /** The same ratio on requests per server CPU second: other tenants' load on the machine taken out. */
  cpuRatio: number | null;
  goal: number | null;
  met: boolean | null;
  note: string | null;
}

export interface Results {
  run: RunInfo;
  cases: (CaseResult & RowVerdict)[];
  memory: MemorySample[];
  missed: string[];
  warnings: string[];
  profile?: { case: CaseId; path: string | null };
}

const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(0)}%`);
const num = (x: number): string => Math.round(x).toLocaleString('en-US');

/** Ratios and verdicts for every measured case. */
export function judge(measured: Map<CaseId, CaseResult>): { rows: (CaseResult & RowVerdict)[]; missed: string[]; warnings: string[] } {
  const rows: (CaseResult & RowVerdict)[] = [];
  const missed: string[] = [];
  const warnings: string[] = [];
  for (const def of CASES) {
    const m = measured.get(def.id);
    if (!m) continue;
    const ref = measured.get(def.vs);
    const ratio = ref && ref.rps > 0 ? m.rps / ref.rps : null;
    const cpuRatio = ref?.requestsPerServerCpuS && m.requestsPerServerCpuS ? m.requestsPerServerCpuS / ref.requestsPerServerCpuS : null;
    const goal = def.goal ?? null;
    const met = goal === null || ratio === null ? null : ratio >= goal;
    let note: string | null = null;
    if (met === false) {
      const perCpu = cpuRatio === null ? '' : `; per server CPU second ${pct(cpuRatio)}`;
      note = `MISSED: ${def.title} is ${pct(ratio)} of ${caseDef(def.vs).title.replace(/^ceiling: /, '')}${perCpu} (goal: ${def.goalName ?? `≥ ${pct(goal)}`}). Bounded by ${def.bound ?? 'unknown'}`;
      missed.push(note);
    }
    if (m.non2xx > 0 || m.errors > 0) {
      warnings.push(`${def.id}: ${m.non2xx} non-2xx responses and ${m.errors} connection errors of ${m.requests} (status codes ${JSON.stringify(m.statusCodes)})`);
    }
    const genShare = m.durationS > 0 ? m.generatorCpuS / m.durationS : 0;
    if (genShare > 0.9 && (m.serverCpuOurs ?? 1) < 0.8) {
      warnings.push(`${def.id}: the load generator used ${pct(genShare)} of its core while our servers used ${pct(m.serverCpuOurs)} of theirs: this number is bounded by the generator, not the server`);
    }
    if ((m.serverCpuForeign ?? 0) > 0.15) {
      warnings.push(`${def.id}: other processes on this machine took ${pct(m.serverCpuForeign)} of the server core(s) during the case: its requests/s is low by about that much; the per-CPU ratio is the steadier number`);
    }
    rows.push({ ...m, id: def.id, title: def.title, kind: def.kind, vs: def.vs, ratio, cpuRatio, goal, met, note });
  }
  const create = measured.get('create');
  const insert = measured.get('pg-insert');
  if (create && insert && insert.p99Ms > 0 && create.p99Ms >= 3 * insert.p99Ms) {
    missed.push(`MISSED: create p99 ${create.p99Ms} ms is ${(create.p99Ms / insert.p99Ms).toFixed(1)}× the INSERT ceiling's p99 (${insert.p99Ms} ms) (goal: < 3×). Bounded by ${caseDef('create').bound ?? 'unknown'}`);
  }
  return { rows, missed, warnings };
}

function tierText(t: ReadCounts | null): string {
  if (!t) return '';
  return (['l1', 'l2', 'replica', 'primary'] as const)
    .filter((k) => t[k] >= 0.005)
    .map((k) => `${k} ${pct(t[k])}`)
    .join(', ');
}

const COMPONENTS = ['app', 'nginx', 'primary', 'replica', 'redis', 'catalog', 'baseline'] as const;
const us = (x: number | undefined): string => (x === undefined || x < 0.5 ? '' : x.toFixed(0));

/** CPU time per request of each component, the figures the README's capacity model is built from. */
function cpuTable(r: Results): string[] {
  const out = ['', '## CPU time per request, by component (µs)', '', `| case | ${COMPONENTS.join(' | ')} | total |`, `| --- | ${COMPONENTS.map(() => '---:').join(' | ')} | ---: |`];
  for (const c of r.cases) {
    const v = c.cpuUsPerRequest ?? {};
    const total = COMPONENTS.reduce((a, k) => a + (v[k] ?? 0), 0);
    out.push(`| ${c.title} | ${COMPONENTS.map((k) => us(v[k])).join(' | ')} | ${us(total)} |`);
  }
  out.push('', 'CPU seconds (user + system) of each component\'s processes over warm-up and run, divided by the requests served. `baseline`: the ceiling\'s own server (and its NGINX).');
  return out;
}

/** Total server CPU per request of a case, in µs. */
export function totalCpuUs(c: Pick<CaseResult, 'cpuUsPerRequest'>): number {
  return COMPONENTS.reduce((a, k) => a + (c.cpuUsPerRequest?.[k] ?? 0), 0);
}

/**
 * The model's shard assumptions checked: a write's CPU does not depend on the
 * shard count (so requests/s on three shards is predicted from two), and the
 * hash spreads the primaries' work evenly.
 */
function shardCheck(byId: Map<CaseId, CaseResult>, cores: number): string[] {
  const out: string[] = [];
  for (const [two, three] of [['create', 'create-3shards'], ['put-doc', 'put-doc-3shards']] as const) {
    const a = byId.get(two);
    const b = byId.get(three);
    if (!a || !b) continue;
    const primaryUs = (c: CaseResult) => c.cpuUsPerRequest?.primary ?? 0;
    const predicted = (cores * 1e6) / totalCpuUs(a);
    const shares = Object.entries(b.primaryShares ?? {}).map(([shard, x]) => `${shard} ${pct(x)}`).join(', ');
    out.push(`| ${caseDef(three).title} | ${us(totalCpuUs(a))} → ${us(totalCpuUs(b))} | ${us(primaryUs(a))} → ${us(primaryUs(b))} | ${num(predicted)} | ${num(b.rps)} | ${pct(b.rps / predicted)} | ${pct(b.serverCpuOurs)} | ${shares} |`);
  }
  if (out.length === 0) return out;
  return [
    '', 'Shards: the same writes on a stack of three shards, predicted from the two-shard case\'s CPU per request:', '',
    '| case | CPU µs/request, 2 → 3 shards | of it primaries | predicted req/s | measured | measured / predicted | server cores used by ours | primaries\' CPU by shard |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...out,
    '', 'The model holds when CPU per request stays about the same from two shards to three and each primary does about a third of the work.',
  ];
}

/**
 * The capacity model checked where this machine can: requests/s predicted
 * from another case's CPU per request (server cores × 1 s ÷ CPU per request)
 * against what was measured; and the create latency goal.
 */
function capacityCheck(r: Results): string[] {
  const byId = new Map(r.cases.map((c) => [c.id, c]));
  const cores = r.run.pinning.serverCpus.length;
  const out: string[] = [];
  const one = byId.get('get-l1-nginx');
  for (const id of ['get-l1-nginx', 'get-l1-nginx-2apps', 'get-l1-nginx-4apps'] as const) {
    const c = byId.get(id);
    if (!one || !c) continue;
    const predicted = (cores * 1e6) / totalCpuUs(one);
    out.push(`| ${c.title} | ${num(predicted)} | ${num(c.rps)} | ${pct(c.rps / predicted)} | ${pct(c.serverCpuOurs)} |`);
  }
  if (out.length > 0) {
    out.unshift('', '## Capacity model, checked', '', `Requests/s predicted from the 1-app case's CPU per request (${cores} server core(s) ÷ CPU per request), against measured:`, '', '| case | predicted req/s | measured | measured / predicted | server cores used by ours |', '| --- | ---: | ---: | ---: | ---: |');
    out.push('', 'Measured below predicted by about the share of the server core(s) our processes did not get (the last column) means the model holds and the machine was shared; further below means spreading over more processes costs CPU of its own.');
  }
  out.push(...shardCheck(byId, cores));
  const create = byId.get('create');
  const insert = byId.get('pg-insert');
  if (create && insert && insert.p99Ms > 0) {
    const x = create.p99Ms / insert.p99Ms;
    out.push('', `Create p99 ${create.p99Ms} ms is ${x.toFixed(1)}× the INSERT ceiling's p99 (${insert.p99Ms} ms): goal < 3×, ${x < 3 ? 'met' : '**MISSED**'}.`);
  }
  return out;
}

export function markdown(r: Results): string {
  const { run } = r;
  const lines: string[] = [];
  lines.push(`# Tessera benchmark (${run.mode})`, '');
  lines.push(
    `${run.startedAt} · ${run.machine.nproc} CPUs (${run.machine.cpuModel}) · Node ${run.machine.node} · load average before/after: ${run.machine.loadavgStart} / ${run.machine.loadavgEnd}`,
    '',
    `${num(run.users)} seeded users, Zipf s=${run.zipfS} reads · autocannon, ${run.connections} connections for reads and ${run.writeConnections} for writes, ${run.warmupS} s warm-up + ${run.durationS} s measured per case · ` +
      (run.pinning.pinned
        ? `servers pinned to CPU ${run.pinning.serverCpus.join(',')}, load generator to CPU ${run.pinning.generatorCpus.join(',')}`
        : `NOT PINNED (${run.pinning.reason ?? 'unknown'}): servers and generator share every CPU`),
    '',
  );
  lines.push('| case | req/s | p50 ms | p99 ms | non-2xx / errors | served by | vs | ratio | goal | result | ratio per CPU-s | CPU ours / other / gen |');
  lines.push('| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- | ---: | ---: |');
  for (const c of r.cases) {
    const result = c.met === null ? '' : c.met ? 'met' : '**MISSED**';
    const loads = c.dbLoadsPerRequest !== null && (c.tiers?.replica ?? 0) + (c.tiers?.primary ?? 0) > 0.5 ? ` (${c.dbLoadsPerRequest.toFixed(2)} DB loads/req)` : '';
    lines.push(
      `| ${c.title} | ${num(c.rps)} | ${c.p50Ms} | ${c.p99Ms} | ${c.non2xx} / ${c.errors} | ${tierText(c.tiers)}${loads} | ${c.vs === c.id ? '–' : c.vs} | ${pct(c.ratio)} | ${c.goal === null ? '' : `≥ ${pct(c.goal)}`} | ${result} | ${pct(c.cpuRatio)} | ${pct(c.serverCpuOurs)} / ${pct(c.serverCpuForeign)} / ${pct(c.durationS > 0 ? c.generatorCpuS / c.durationS : null)} |`,
    );
  }
  if (r.memory.length > 0) {
    lines.push('', '## Memory (VmRSS)', '', '| app | when | RSS MiB | under 300 MiB |', '| --- | --- | ---: | --- |');
    for (const m of r.memory) lines.push(`| ${m.app} | ${m.when} | ${m.rssMiB === null ? '–' : m.rssMiB.toFixed(0)} | ${m.under300MiB === null ? '–' : m.under300MiB ? 'yes' : '**no**'} |`);
  }
  lines.push(...cpuTable(r), ...capacityCheck(r));
  if (r.missed.length > 0) lines.push('', '## Goals missed', '', ...r.missed.map((m) => `- ${m}`));
  if (r.warnings.length > 0) lines.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${w}`));
  if (r.profile) lines.push('', `CPU profile of the worst case (${r.profile.case}): ${r.profile.path ?? 'not written'}`);
  lines.push(
    '',
    'Ratios are requests/s against the `vs` case measured in the same run. NGINX cases are compared with the same case direct (NGINX cost = 1 − ratio); ' +
      'the 2- and 4-app cases with 1 app behind NGINX. "ratio per CPU-s": the same ratio on requests per CPU second of our server processes (apps, PostgreSQL, Redis, NGINX, baselines), ' +
      'which leaves out load from other processes on the machine. "CPU": share of the server core(s) our servers used / other processes used / share of its core the generator used. ' +
      'Users are seeded straight into the shard primaries (bypassing the API, for speed). How each tier is forced: bench/README.md.',
  );
  return `${lines.join('\n')}\n`;
}
