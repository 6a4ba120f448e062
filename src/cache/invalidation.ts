import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { EntryKind } from './entry.js';

/** One invalidation: the key and the version the write reached. */
export interface Invalidation {
  key: string;
  e: number;
  v: number;
  kind: EntryKind;
}

const encode = (origin: string, m: Invalidation) => `${origin}\t${m.key}\t${m.e}\t${m.v}\t${m.kind}`;

function decode(text: string): (Invalidation & { origin: string }) | undefined {
  const [origin, key, e, v, kind] = text.split('\t');
  if (!origin || !key || (kind !== 'floor' && kind !== 'gone')) return undefined;
  return { origin, key, e: Number(e), v: Number(v), kind };
}

/**
 * The invalidation channel: every write publishes the key it changed; every
 * replica applies it to its L1. A subscriber that lost its connection may have
 * missed messages, so on reconnecting it asks for L1 to be cleared.
 */
export class InvalidationBus {
  readonly #sub: Redis;
  #connectedOnce = false;
  /** Tells this process's own messages apart: it has applied them already. */
  readonly #origin = randomUUID().slice(0, 8);

  constructor(
    url: string,
    private readonly channel: string,
    private readonly log: FastifyBaseLogger,
    handlers: { onMessage: (m: Invalidation) => void; onResync: () => void },
  ) {
    this.#sub = new Redis(url, { retryStrategy: (times) => Math.min(50 * times, 1000), connectTimeout: 1000, maxRetriesPerRequest: null });
    this.#sub.on('error', () => undefined); // L2's client logs the outage once
    this.#sub.on('ready', () => {
      if (this.#connectedOnce) handlers.onResync();
      this.#connectedOnce = true;
    });
    this.#sub.on('message', (_channel: string, text: string) => {
      const m = decode(text);
      if (m && m.origin !== this.#origin) handlers.onMessage(m);
    });
    this.#sub.subscribe(channel).catch((err: unknown) => this.log.warn({ err }, 'invalidation channel subscribe failed; will retry on reconnect'));
  }

  /**
   * The invalidation of `m` as a channel and a message. The write's L2 floor
   * publishes it in the same Redis command (`L2.floor`), awaited before the
   * write is acknowledged: Redis has handed the message to every
   * subscriber's socket by the time it answers, so a read that follows the
   * acknowledgement finds L1 cleared.
   */
  envelope(m: Invalidation): { channel: string; message: string } {
    return { channel: this.channel, message: encode(this.#origin, m) };
  }

  async close(): Promise<void> {
    this.#sub.disconnect();
  }
}
