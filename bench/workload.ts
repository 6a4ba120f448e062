/**
 * The request streams the load generator sends, as pure functions of a seed:
 * Zipf-like popularity over the seeded users for reads, fresh emails for
 * creates, uniform users for document PUTs. Shared by the generator and the
 * unit-free checks in the runner.
 */
import { prng, zipfPicker } from '../load-tests/lib/random.js';

/** What one case sends; the generator builds requests from it. */
export type Workload =
  | { kind: 'get-user'; usersFile: string; zipfS: number; seed: number }
  /** Every seeded user once, in order: fills the caches before a hit case. */
  | { kind: 'sweep-users'; usersFile: string }
  | { kind: 'create-user'; runId: string }
  | { kind: 'put-doc'; usersFile: string; runId: string; seed: number };

/**
 * Draws indexes 0..n-1 with P(rank r) ∝ 1/r^s (Zipf). Ranks are mapped to
 * items through a seeded shuffle, so popularity is unrelated to id order or
 * to shards.
 */
export function zipfSampler(n: number, s: number, seed: number): () => number {
  const rand = prng(seed);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  const rank = zipfPicker(n, s, rand);
  return () => order[rank()] as number;
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
