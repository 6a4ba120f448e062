/**
 * `npm run bench:compose`'s numbers: each case through each NGINX variant
 * (averaged over rounds), and what the shipped `dns` configuration costs
 * against the `keepalive` one: throughput, and requests per CPU second of the
 * containers under test (NGINX and the apps), which leaves other tenants of
 * the machine out.
 */
import type { Measured } from '../load.js';
import type { Variant } from './nginx-variants.js';

export interface ComposeRun extends Measured {
  case: string;
  title: string;
  variant: Variant;
  round: number;
  /** CPU seconds of the NGINX container alone (warm-up and run, like serverCpuS). */
  nginxCpuS: number;
}

export interface VariantSummary {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers plus connection errors and timeouts, over every round. */
  failed: number;
  /** CPU milliseconds of NGINX and the apps per request. */
  cpuMsPerRequest: number | null;
  /** The NGINX container's share of it. */
  nginxCpuMsPerRequest: number | null;
}

export interface CaseSummary {
  case: string;
  title: string;
  dns: VariantSummary;
  keepalive: VariantSummary;
  /** dns ÷ keepalive throughput. */
  rpsRatio: number;
  /** dns ÷ keepalive requests per CPU second (null when CPU was not measured). */
  perCpuRatio: number | null;
}

export interface ComposeBenchResults {
  at: string;
  options: Record<string, unknown>;
  runs: ComposeRun[];
  summary: CaseSummary[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function variantSummary(runs: ComposeRun[]): VariantSummary {
  const requests = runs.reduce((a, r) => a + r.requests + r.warmupRequests, 0);
  const cpuS = runs.reduce((a, r) => a + r.serverCpuS, 0);
  const nginxS = runs.reduce((a, r) => a + r.nginxCpuS, 0);
  return {
    rps: mean(runs.map((r) => r.rps)),
    p50Ms: mean(runs.map((r) => r.p50Ms)),
    p99Ms: mean(runs.map((r) => r.p99Ms)),
    failed: runs.reduce((a, r) => a + r.non2xx + r.errors, 0),
    cpuMsPerRequest: cpuS > 0 && requests > 0 ? (cpuS * 1000) / requests : null,
    nginxCpuMsPerRequest: nginxS > 0 && requests > 0 ? (nginxS * 1000) / requests : null,
  };
}

export function summarize(runs: ComposeRun[]): CaseSummary[] {
  const cases = [...new Set(runs.map((r) => r.case))];
  return cases.map((id) => {
    const of = (v: Variant) => variantSummary(runs.filter((r) => r.case === id && r.variant === v));
    const dns = of('dns');
    const keepalive = of('keepalive');
    return {
      case: id,
      title: runs.find((r) => r.case === id)!.title,
      dns,
      keepalive,
      rpsRatio: keepalive.rps > 0 ? dns.rps / keepalive.rps : 0,
      perCpuRatio: dns.cpuMsPerRequest && keepalive.cpuMsPerRequest ? keepalive.cpuMsPerRequest / dns.cpuMsPerRequest : null,
    };
  });
}

const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f1 = (n: number) => n.toFixed(1);
const pct = (n: number | null) => (n === null ? 'n/a' : `${Math.round(n * 100)}%`);

export function markdown(r: ComposeBenchResults): string {
  const lines = [
    `# bench:compose — NGINX following \`--scale\` (dns) vs the local stack's keepalive upstream`,
    '',
    `${r.at}; ${JSON.stringify(r.options)}`,
    '',
    '| case | NGINX config | req/s | p50 / p99 ms | CPU ms per request: NGINX + apps (NGINX alone) | failed |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const c of r.summary) {
    for (const v of ['dns', 'keepalive'] as const) {
      const s = c[v];
      lines.push(`| ${c.title} | ${v === 'dns' ? 'shipped: resolve per request, no pool' : 'local stack: upstream keepalive 64'} | ${f0(s.rps)} | ${f1(s.p50Ms)} / ${f1(s.p99Ms)} | ${s.cpuMsPerRequest === null ? 'n/a' : s.cpuMsPerRequest.toFixed(3)} (${s.nginxCpuMsPerRequest === null ? 'n/a' : s.nginxCpuMsPerRequest.toFixed(3)}) | ${s.failed} |`);
    }
  }
  lines.push('', '| case | shipped ÷ keepalive, req/s | shipped ÷ keepalive, req per CPU-s |', '| --- | ---: | ---: |');
  for (const c of r.summary) lines.push(`| ${c.title} | ${pct(c.rpsRatio)} | ${pct(c.perCpuRatio)} |`);
  return `${lines.join('\n')}\n`;
}
