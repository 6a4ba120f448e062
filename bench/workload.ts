/**
 * The request streams the load generator sends, as pure functions of a seed:
 * Zipf-like popularity over the seeded users for reads, fresh emails for
 * creates, uniform users for document PUTs. Shared by the generator and the
 * unit-free checks in the runner.
 */

/** What one case sends; the generator builds requests from it. */
export type Workload =
  | { kind: 'get-user'; usersFile: string; zipfS: number; seed: number }
  /** Every seeded user once, in order: fills the caches before a hit case. */
  | { kind: 'sweep-users'; usersFile: string }
  | { kind: 'create-user'; runId: string }
  | { kind: 'put-doc'; usersFile: string; runId: string; seed: number };

/** mulberry32: a tiny seeded PRNG, so every run (and every baseline) sees the same id sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Draws indexes 0..n-1 with P(rank r) ∝ 1/r^s (Zipf). Ranks are mapped to
 * items through a seeded shuffle, so popularity is unrelated to id order or
 * to shards.
 */
export function zipfSampler(n: number, s: number, seed: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    sum += 1 / Math.pow(r + 1, s);
    cdf[r] = sum;
  }
  const rand = prng(seed);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  return () => {
    const u = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return order[lo] as number;
  };
}

/** Share of draws that land on the `top` most popular items: how skewed the read load is. */
export function zipfHeadShare(n: number, s: number, top: number): number {
  let all = 0;
  let head = 0;
  for (let r = 1; r <= n; r++) {
    const w = 1 / Math.pow(r, s);
    all += w;
    if (r <= top) head += w;
  }
  return head / all;
}
