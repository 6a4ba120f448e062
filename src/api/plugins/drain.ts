/**
 * Draining: once the process is shutting down, new requests with an
 * idempotent method get 503 (problem+json, TESSERA_ERR_SHUTTING_DOWN,
 * `Retry-After`, `Connection: close`) instead of work, so that NGINX retries
 * them on another replica. POST and PATCH are served instead: NGINX never
 * resends those once sent, so a 503 would fail the client's request, and
 * this replica still has its pools until the drain ends. Every response
 * while draining closes its connection. Ops routes keep answering: `/readyz`
 * reports `draining` itself, `/healthz` and `/metrics` stay useful until the
 * process exits.
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

/** Methods a proxy may resend to another replica after a 503 (RFC 9110 §9.2.2). */
const RETRIABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

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
    if (!(closing || opts.draining()) || !RETRIABLE.has(req.method) || OPS_ROUTES.has(req.routeOptions.url ?? '')) {
      done();
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
