/**
 * Per-caller rate limits that hold across app replicas without a Redis round
 * trip on the request path.
 *
 * Each replica decides alone, from what it knows: a sliding window (the
 * previous fixed window's count, weighted by how much of it still overlaps,
 * plus the current window's) over counts that are global as of the last sync,
 * plus what this replica admitted since. Every `syncMs` it adds its new
 * admissions to one Redis counter per caller and window (`INCRBY`, pipelined)
 * and learns the global count back from the same reply.
 *
 * Tolerance: a replica does not see what the others admitted since the last
 * sync. In steady state a caller over its limit therefore gets up to
 * (R − 1) × limit × sync / window extra requests per window with R replicas
 * (5% of the limit per extra replica at 50 ms syncs and a 1 s window); when a
 * burst starts, each other replica may also admit what it receives in one
 * sync interval before the first sync shows it. With Redis unreachable each
 * replica enforces the whole limit on its own, so the fleet admits up to R
 * times the limit until Redis is back; the limiter never fails a request.
 */
import type { Redis } from 'ioredis';

/** Settings of a {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Requests per window per key. */
  limit: number;
  /** @default 1000 */
  windowMs?: number;
  /** How often admissions are pushed to Redis and global counts pulled. @default 50 */
  syncMs?: number;
  /** Key prefix in Redis, e.g. `tessera:rl:caller:`. */
  prefix: string;
  /** Reports a failed sync (Redis down); the limiter goes on locally. */
  onSyncError?: (err: Error) => void;
}

/** The verdict for one request. */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Requests left in the sliding window after this one (0 when refused). */
  remaining: number;
  /** Seconds until a refused caller may try again (≥ 1). */
  retryAfter: number;
}

interface KeyState {
  /** Fixed-window index (`floor(now / windowMs)`) the counts below belong to. */
  window: number;
  /** Global count of this window as of the last sync (every replica's pushed admissions). */
  global: number;
  /** Admitted here since the last push. */
  pending: number;
  /** Count of the previous window (global as last known, plus what was pending here). */
  previous: number;
  /** Last window this key saw a request; idle keys are dropped. */
  seen: number;
}

/** See the module comment. */
export class RateLimiter {
  readonly limit: number;
  readonly #windowMs: number;
  readonly #keys = new Map<string, KeyState>();
  #timer: NodeJS.Timeout | undefined;
  #syncing = false;

  constructor(
    private readonly opts: RateLimiterOptions,
    private readonly redis?: Redis,
  ) {
    this.limit = opts.limit;
    this.#windowMs = opts.windowMs ?? 1000;
    if (redis) {
      this.#timer = setInterval(() => void this.sync(), opts.syncMs ?? 50);
      this.#timer.unref();
    }
  }

  /** Whether one more request of `key` would be within the limit, without counting it. No I/O. */
  wouldAllow(key: string, now = Date.now()): boolean {
    const s = this.#keys.get(key);
    if (s === undefined) return this.limit >= 1;
    const window = Math.floor(now / this.#windowMs);
    if (s.window !== window) this.#rollOver(key, s, window);
    return this.#used(s, window, now) + 1 <= this.limit;
  }

  #used(s: KeyState, window: number, now: number): number {
    const overlap = 1 - (now - window * this.#windowMs) / this.#windowMs;
    return s.previous * overlap + s.global + s.pending;
  }

  /** Counts one request of `key` if it is within the limit. No I/O. */
  take(key: string, now = Date.now()): RateDecision {
    const window = Math.floor(now / this.#windowMs);
    let s = this.#keys.get(key);
    if (s === undefined) {
      s = { window, global: 0, pending: 0, previous: 0, seen: window };
      this.#keys.set(key, s);
    } else if (s.window !== window) {
      // Pending admissions of the old window are still pushed under its key by the next sync.
      this.#rollOver(key, s, window);
    }
    s.seen = window;
    const used = this.#used(s, window, now);
    if (used + 1 > this.limit) {
      // Whole seconds until the window turns over, when the previous window's weight drops sharply.
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * this.#windowMs - now) / 1000));
      return { allowed: false, limit: this.limit, remaining: 0, retryAfter };
    }
    s.pending += 1;
    return { allowed: true, limit: this.limit, remaining: Math.max(0, Math.floor(this.limit - used - 1)), retryAfter: 0 };
  }

  readonly #stale: { key: string; window: number; count: number }[] = [];

  #rollOver(key: string, s: KeyState, window: number): void {
    if (s.pending > 0 && this.redis) this.#stale.push({ key, window: s.window, count: s.pending });
    s.previous = s.window === window - 1 ? s.global + s.pending : 0;
    s.window = window;
    s.global = 0;
    s.pending = 0;
  }

  /**
   * Pushes this replica's new admissions and pulls global counts, for every
   * key active in the current window, in one pipelined round trip.
   */
  async sync(now = Date.now()): Promise<void> {
    if (!this.redis || this.#syncing) return;
    const window = Math.floor(now / this.#windowMs);
    const batch: { s: KeyState; pushed: number; win: number }[] = [];
    const pipeline = this.redis.pipeline();
    const ttl = 3 * this.#windowMs;
    for (const st of this.#stale.splice(0)) pipeline.incrby(`${this.opts.prefix}${st.key}:${st.window}`, st.count).pexpire(`${this.opts.prefix}${st.key}:${st.window}`, ttl);
    for (const [key, s] of this.#keys) {
      if (s.seen < window - 2) {
        this.#keys.delete(key);
        continue;
      }
      if (s.window !== window) this.#rollOver(key, s, window);
      if (s.seen !== window && s.pending === 0) continue;
      const redisKey = `${this.opts.prefix}${key}:${window}`;
      // INCRBY 0 reads the count too: other replicas' admissions arrive with ours.
      pipeline.incrby(redisKey, s.pending).pexpire(redisKey, ttl);
      batch.push({ s, pushed: s.pending, win: window });
    }
    if (pipeline.length === 0) return;
    this.#syncing = true;
    try {
      const replies = await pipeline.exec();
      // Replies of stale pushes come first; ours follow, two per key (INCRBY, PEXPIRE).
      const offset = (replies?.length ?? 0) - batch.length * 2;
      batch.forEach((b, i) => {
        const [err, count] = replies?.[offset + i * 2] ?? [new Error('no reply')];
        if (err || typeof count !== 'number' || b.s.window !== b.win) return;
        b.s.pending -= b.pushed;
        b.s.global = count;
      });
    } catch (err) {
      this.opts.onSyncError?.(err as Error);
    } finally {
      this.#syncing = false;
    }
  }

  /** Stops syncing (the last admissions are pushed first when Redis is up). */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.sync().catch(() => undefined);
  }
}
