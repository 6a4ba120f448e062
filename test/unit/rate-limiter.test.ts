import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/ratelimit/limiter.js';

describe('the rate limiter (one replica, no Redis)', () => {
  it('admits the limit in a window, then refuses with Retry-After until the window turns', () => {
    const rl = new RateLimiter({ limit: 5, windowMs: 1000, prefix: 't:' });
    const t0 = 10_000; // the start of a window
    const verdicts = Array.from({ length: 7 }, (_, i) => rl.take('a', t0 + i));
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, true, true, false, false]);
    expect(verdicts.map((v) => v.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0]);
    expect(verdicts[5]).toMatchObject({ retryAfter: 1, limit: 5 });
    // Another key has its own budget.
    expect(rl.take('b', t0 + 10).allowed).toBe(true);
  });

  it('slides: early in the next window the previous one still counts, late in it almost not', () => {
    const rl = new RateLimiter({ limit: 10, windowMs: 1000, prefix: 't:' });
    for (let i = 0; i < 10; i++) expect(rl.take('a', 5000 + i).allowed).toBe(true);
    // 10% into the next window, 90% of the previous window's 10 still count: one more fits.
    expect(rl.take('a', 6100).allowed).toBe(true);
    expect(rl.take('a', 6101).allowed).toBe(false);
    // 90% into it only 10% (1) of the previous count remains, beside the 1 admitted: 8 more fit.
    const late = Array.from({ length: 9 }, (_, i) => rl.take('a', 6900 + i).allowed);
    expect(late.filter(Boolean)).toHaveLength(8);
  });

  it('wouldAllow looks without counting', () => {
    const rl = new RateLimiter({ limit: 1, windowMs: 1000, prefix: 't:' });
    expect(rl.wouldAllow('a', 1000)).toBe(true);
    expect(rl.wouldAllow('a', 1001)).toBe(true);
    expect(rl.take('a', 1002).allowed).toBe(true);
    expect(rl.wouldAllow('a', 1003)).toBe(false);
  });
});
