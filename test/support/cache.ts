import { call } from './http.js';
import { testStack } from './stack.js';

/** What one app replica's tiers hold for a cache key (via the opt-in /internal/cache). */
export async function inspectCache(appUrl: string, key: string): Promise<{ l1: { kind: string; e: number; v: number } | null; l2: { kind: string; e: number; v: number } | null; redis: boolean }> {
  const res = await call('GET', `/internal/cache?key=${encodeURIComponent(key)}`, { base: appUrl });
  if (res.status !== 200) throw new Error(`inspect ${key}: ${res.status}`);
  return res.body;
}

/** The sum of a Prometheus counter (all label sets matching `labels`) on one app. */
export async function counter(appUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${appUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Database reads (replica + primary) one app has made. */
export async function dbReads(appUrl: string): Promise<number> {
  return (await counter(appUrl, 'tessera_reads_total', { source: 'replica' })) + (await counter(appUrl, 'tessera_reads_total', { source: 'primary' }));
}

/** The app replicas of the test stack. */
export function apps() {
  return testStack().apps;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000, stepMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(stepMs);
  }
  return check();
}
