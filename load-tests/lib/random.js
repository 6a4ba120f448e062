/**
 * Seeded randomness shared by the k6 scenarios and the Node tools (the
 * benchmark's load generator, scripts/affinity-ratio.ts): no k6 or Node
 * imports, so both runtimes load this one file. Types: random.d.ts.
 */

/** mulberry32: a tiny, fast, seedable PRNG; plenty for choosing keys. */
export function prng(seed) {
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
 * Picks an index in [0, n) with P(i) ∝ 1/(i+1)^s: with s≈1 a few items take
 * most picks; s=0 is uniform. The CDF is computed once, each pick is a binary search.
 */
export function zipfPicker(n, s, random) {
  if (n <= 0) throw new Error('zipfPicker needs at least one item');
  const cdf = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cdf[i] = total += 1 / Math.pow(i + 1, s);
  return () => {
    const target = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
