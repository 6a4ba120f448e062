/**
 * Load shedding with @fastify/under-pressure: when the event loop lags (or is
 * saturated) past a bound, new requests are refused at once instead of
 * queueing behind the backlog and slowing every client down. An idempotent
 * request that came through NGINX has its connection closed, so that NGINX
 * resends it to another replica and skips this one for a while (see
 * `edge.ts`); any other request gets 503 (problem+json,
 * TESSERA_ERR_OVERLOADED, `Retry-After`). Ops routes are never shed, so a busy
 * replica is not mistaken for a dead one.
 */
import underPressure, { type FastifyUnderPressureOptions } from '@fastify/under-pressure';

type PressureHandler = NonNullable<FastifyUnderPressureOptions['pressureHandler']>;
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ErrorCodes } from '../../errors/catalog.js';
import { OPS_ROUTES } from './drain.js';
import { dropForRetry, retryElsewhere } from './edge.js';

/** Thresholds; 0 turns a check off. */
export interface LoadSheddingOptions {
  /** Mean event-loop delay, in ms, over one sample interval. 0: off. */
  maxEventLoopDelayMs: number;
  /** Event-loop utilisation (0–1) over one sample interval. 0: off. */
  maxEventLoopUtilization: number;
  /** Seconds a client should wait before retrying. @default 1 */
  retryAfterSeconds?: number;
  /** How often the event loop is sampled. @default 1000 */
  sampleIntervalMs?: number;
}

const loadShedding: FastifyPluginAsync<LoadSheddingOptions> = async (app, opts) => {
  if (opts.maxEventLoopDelayMs <= 0 && opts.maxEventLoopUtilization <= 0) return;
  const retryAfter = String(opts.retryAfterSeconds ?? 1);
  const sampleInterval = opts.sampleIntervalMs ?? 1000;
  // under-pressure reports a sample interval without a single event-loop tick
  // as Infinity. Right after boot that is module loading, not load: such a
  // reading is ignored until two intervals after the app is ready.
  let bootUntil = Number.POSITIVE_INFINITY;
  app.addHook('onReady', async () => {
    bootUntil = Date.now() + 2 * sampleInterval;
  });
  await app.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelayMs,
    maxEventLoopUtilization: opts.maxEventLoopUtilization,
    sampleInterval,
    pressureHandler: shed as PressureHandler,
  });

  // Returning nothing lets the request through; returning a body makes
  // under-pressure send it (its typings say void, its code sends any non-null
  // result). Sending here and returning nothing would run the handler too:
  // a reply counts as sent only once it is written.
  function shed(req: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) {
    if (OPS_ROUTES.has(req.routeOptions.url ?? '')) return undefined;
    if (typeof value === 'number' && !Number.isFinite(value) && Date.now() < bootUntil) return undefined;
    if (retryElsewhere(req)) {
      dropForRetry(req, reply);
      // A promise that never settles: under-pressure then never continues the
      // request's lifecycle (its handler must not run on a dropped request).
      return new Promise<never>(() => undefined);
    }
    const { status, title } = ErrorCodes.TESSERA_ERR_OVERLOADED;
    void reply.code(status).type('application/problem+json').header('retry-after', retryAfter);
    const detail = `this replica is overloaded (${type}); retry the request`;
    return { type: 'urn:tessera:error:TESSERA_ERR_OVERLOADED', title, status, detail, code: 'TESSERA_ERR_OVERLOADED', instance: req.url, requestId: req.id };
  }
};

/** Sheds load under event-loop pressure; a no-op when every threshold is 0. */
export const loadSheddingPlugin = fp(loadShedding, { name: 'tessera-load-shedding', fastify: '5.x' });
