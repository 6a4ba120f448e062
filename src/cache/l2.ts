import { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { instrumentRedis } from '../observability/client-spans.js';
import type { CacheEntry } from './entry.js';
import { decodeEntry, encodeEntry, jittered } from './entry.js';

/** L2 settings. */
export interface L2Options {
  url: string;
  /** Past this a command counts as failed: the request goes on without L2. */
  timeoutMs: number;
  ttlMs: number;
  negativeTtlMs: number;
  jitter: number;
  /** Key prefix, so one Redis can serve several deployments. */
  prefix: string;
}

/**
 * Compare-and-set in one round trip. Entries start with `e:v:kind|`, so the
 * script compares versions without decoding JSON. Returns 1 stored, 0 already
 * there, -1 refused as older than what Redis holds. With a channel and a
 * message (ARGV[6], ARGV[7]) it then publishes the message whatever the
 * outcome: a write's floor and its invalidation in one command, the floor
 * first, so a replica that hears of the write finds the floor in place.
 */
const CAS_SCRIPT = `
local function cas()
  local cur = redis.call('GET', KEYS[1])
  local ne, nv = tonumber(ARGV[1]), tonumber(ARGV[2])
  if cur then
    local ce, cv, ck = string.match(cur, '^(%d+):(%d+):(%a)')
    ce, cv = tonumber(ce), tonumber(cv)
    if ce ~= nil then
      if ce > ne or (ce == ne and cv > nv) then return -1 end
      if ce == ne and cv == nv and (ck == 'd' or ARGV[5] == 'floor') then return 0 end
    end
  end
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
local r = cas()
if ARGV[6] then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
return r
`;

type CasRedis = Redis & {
  tesseraCas(key: string, e: number, v: number, payload: string, ttlMs: number, mode: 'fill' | 'floor', channel?: string, message?: string): Promise<number>;
};

/** The outcome of a fill. */
export type FillResult = 'stored' | 'same' | 'stale' | 'skipped';

const MAX_PENDING = 100_000;

/**
 * The Redis tier. Redis is never a reason to fail a request: commands have a
 * short timeout and no offline queue, and any failure reads as a miss. Floors
 * that could not be written while Redis was away are replayed when it returns,
 * so it cannot come back serving rows older than writes made meanwhile.
 */
export class L2 {
  readonly redis: CasRedis;
  #wasUp = true;
  readonly #pending = new Map<string, CacheEntry>();
  #overflowed = false;

  constructor(
    private readonly opts: L2Options,
    private readonly log: FastifyBaseLogger,
    private readonly onHealth: (up: boolean) => void = () => undefined,
  ) {
    this.redis = new Redis(opts.url, {
      enableOfflineQueue: false,
      commandTimeout: opts.timeoutMs,
      connectTimeout: 1000,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(50 * times, 1000),
      lazyConnect: false,
      // Commands issued in the same tick leave in one socket write: a write's
      // floors and invalidations, and the L2 GETs of requests that arrived
      // together. On loopback a write syscall costs more than the command.
      enableAutoPipelining: true,
    }) as CasRedis;
    this.redis.defineCommand('tesseraCas', { numberOfKeys: 1, lua: CAS_SCRIPT });
    instrumentRedis(this.redis, opts.url, 'l2');
    this.redis.on('ready', () => {
      if (!this.#wasUp) this.log.info('redis is back; L2 cache on');
      this.#wasUp = true;
      this.onHealth(true);
      void this.#replayPending();
    });
    this.redis.on('error', () => this.#down()); // logged once by #down; ioredis retries on its own
    this.redis.on('close', () => this.#down());
  }

  #down(): void {
    if (this.#wasUp) this.log.warn('redis unreachable; serving from L1 and the databases until it returns');
    this.#wasUp = false;
    this.onHealth(false);
  }

  /** Whether Redis is connected now. */
  get up(): boolean {
    return this.redis.status === 'ready';
  }

  #key(key: string): string {
    return this.opts.prefix + key;
  }

  /** The entry under `key`; undefined on a miss or when Redis fails. */
  async get(key: string): Promise<CacheEntry | undefined> {
    if (!this.up) return undefined;
    try {
      const text = await this.redis.get(this.#key(key));
      return text === null ? undefined : decodeEntry(text);
    } catch {
      return undefined;
    }
  }

  /** Stores `entry` unless Redis holds a newer version. */
  async fill(key: string, entry: CacheEntry): Promise<FillResult> {
    if (!this.up) return 'skipped';
    try {
      if (entry.kind === 'nf') {
        // Only into an empty slot: a floor or a row there is newer than "not found".
        await this.redis.set(this.#key(key), encodeEntry(entry), 'PX', jittered(this.opts.negativeTtlMs, this.opts.jitter), 'NX');
        return 'stored';
      }
      const r = await this.redis.tesseraCas(this.#key(key), entry.e, entry.v, encodeEntry(entry), jittered(this.opts.ttlMs, this.opts.jitter), 'fill');
      return r === 1 ? 'stored' : r === 0 ? 'same' : 'stale';
    } catch {
      return 'skipped';
    }
  }

  /**
   * Records that a write reached `floor` (replacing older entries) and, with
   * `publish`, sends the write's invalidation in the same command. Queued for
   * replay if Redis is away. Returns whether it reached Redis (and so whether
   * the invalidation went out).
   */
  async floor(key: string, floor: CacheEntry, publish?: { channel: string; message: string }): Promise<boolean> {
    try {
      if (!this.up) throw new Error('redis down');
      const k = this.#key(key);
      if (publish) await this.redis.tesseraCas(k, floor.e, floor.v, encodeEntry(floor), this.opts.ttlMs, 'floor', publish.channel, publish.message);
      else await this.redis.tesseraCas(k, floor.e, floor.v, encodeEntry(floor), this.opts.ttlMs, 'floor');
      return true;
    } catch {
      if (this.#pending.size < MAX_PENDING) this.#pending.set(key, floor);
      else this.#overflowed = true;
      return false;
    }
  }

  async #replayPending(): Promise<void> {
    if (this.#overflowed) {
      // Too many writes went unrecorded to replay one by one: drop our keys instead.
      this.log.warn('too many writes while redis was away; clearing the L2 keys of this deployment');
      const stream = this.redis.scanStream({ match: `${this.opts.prefix}*`, count: 1000 });
      for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await this.redis.unlink(...keys).catch(() => undefined);
      this.#overflowed = false;
      this.#pending.clear();
      return;
    }
    for (const [key, floor] of [...this.#pending]) {
      this.#pending.delete(key);
      await this.floor(key, floor);
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
