/**
 * Draining: once the process is shutting down, new requests with an
 * idempotent method are refused instead of worked on. Through NGINX the
 * connection is closed without an answer, so that NGINX resends the request to
 * another replica (see `edge.ts` for why not a 503); a direct caller gets 503
 * (problem+json, TESSERA_ERR_SHUTTING_DOWN, `Retry-After`, `Connection:
 * close`). POST and PATCH are served instead: NGINX never
 * resends those once sent, so a 503 would fail the client's request, and
 * this replica still has its pools until the drain ends. Every response
 * while draining closes its connection. Ops routes keep answering: `/readyz`
 * reports `draining` itself, `/healthz` and `/metrics` stay useful until the
 * process exits.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { sendProblem } from '../problem.js';
import { RETRIABLE_METHODS, dropForRetry, retryElsewhere } from './edge.js';

/** Options of the drain plugin. */
export interface DrainOptions {
  /** True once the process received SIGTERM (set before `app.close()`). */
  draining: () => boolean;
  /** Seconds a client should wait before retrying. @default 1 */
  retryAfterSeconds?: number;
}

/** Routes that answer while draining. */
export const OPS_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

const drain: FastifyPluginAsync<DrainOptions> = async (app, opts) => {
  const retryAfter = String(opts.retryAfterSeconds ?? 1);
  // `app.close()` alone (tests, embedding) drains too, not only the signal path in server.ts.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Callback hooks, not async ones: they run on every request, and an async
  // hook costs a promise each time.
  app.addHook('onRequest', (req, reply, done) => {
    if (!(closing || opts.draining()) || !RETRIABLE_METHODS.has(req.method) || OPS_ROUTES.has(req.routeOptions.url ?? '')) {
      done();
      return;
    }
    if (retryElsewhere(req)) {
      dropForRetry(req, reply); // the lifecycle ends here: no done()
      return;
    }
    void reply.header('connection', 'close').header('retry-after', retryAfter);
    sendProblem(req, reply, 'TESSERA_ERR_SHUTTING_DOWN', 'this replica is shutting down; retry the request');
  });
  // A request admitted before the drain, or served during it, closes its
  // connection when it is done: the drain ends when no connection is left.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing || opts.draining()) void reply.header('connection', 'close');
    done(null, payload);
  });
};

/** Answers 503 to new idempotent requests while the replica drains. */
export const drainPlugin = fp(drain, { name: 'tessera-drain', fastify: '5.x' });
