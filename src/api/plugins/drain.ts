/**
 * Draining: once the process is shutting down, new requests get 503
 * (problem+json, TESSERA_ERR_SHUTTING_DOWN, `Retry-After`, `Connection:
 * close`) instead of work, so that NGINX retries idempotent ones on another
 * replica; requests already running finish. Ops routes keep answering:
 * `/readyz` reports `draining` itself, `/healthz` and `/metrics` stay useful
 * until the process exits.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { sendProblem } from '../problem.js';

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
  app.addHook('onRequest', async (req, reply) => {
    if (!(closing || opts.draining()) || OPS_ROUTES.has(req.routeOptions.url ?? '')) return;
    void reply.header('connection', 'close').header('retry-after', retryAfter);
    return sendProblem(req, reply, 'TESSERA_ERR_SHUTTING_DOWN', 'this replica is shutting down; retry the request');
  });
  // A request admitted before the drain closes its connection when it is done:
  // an idle keep-alive connection would otherwise hold `close()` open until
  // the drain bound (NGINX keeps upstream connections for 60 s).
  app.addHook('onSend', async (_req, reply) => {
    if (closing || opts.draining()) void reply.header('connection', 'close');
  });
};

/** Answers 503 to new requests while the replica drains. */
export const drainPlugin = fp(drain, { name: 'tessera-drain', fastify: '5.x' });
