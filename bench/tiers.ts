/**
 * Which tier served a case's reads, from the apps' own counters
 * (`tessera_reads_total{source}` on /metrics) read before and after the load:
 * no per-response header parsing in the generator, and every response counts.
 */
import type { AppInfo } from '../src/cluster/index.js';

export type ReadSource = 'l1' | 'l2' | 'replica' | 'primary';
export type ReadCounts = Record<ReadSource, number>;

const SOURCES: ReadSource[] = ['l1', 'l2', 'replica', 'primary'];

function zero(): ReadCounts {
  return { l1: 0, l2: 0, replica: 0, primary: 0 };
}

async function scrape(app: AppInfo): Promise<ReadCounts> {
  const res = await fetch(`${app.url}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  const out = zero();
  for (const line of text.split('\n')) {
    if (!line.startsWith('tessera_reads_total{')) continue;
    const source = /source="([a-z0-9]+)"/.exec(line)?.[1] as ReadSource | undefined;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (source && SOURCES.includes(source) && Number.isFinite(value)) out[source] += value;
  }
  return out;
}

/** Summed read counters of `apps`. */
export async function readCounts(apps: AppInfo[]): Promise<ReadCounts> {
  const all = await Promise.all(apps.map(scrape));
  const out = zero();
  for (const c of all) for (const s of SOURCES) out[s] += c[s];
  return out;
}

/** Share of reads per source between two samples; null when there were none. */
export function tierShares(before: ReadCounts, after: ReadCounts): ReadCounts | null {
  const d = zero();
  let total = 0;
  for (const s of SOURCES) {
    d[s] = after[s] - before[s];
    total += d[s];
  }
  if (total <= 0) return null;
  for (const s of SOURCES) d[s] /= total;
  return d;
}
