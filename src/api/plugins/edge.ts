/**
 * How a replica tells NGINX "send this request to another replica" without
 * NGINX concluding that the replica is broken for everyone.
 *
 * NGINX's `proxy_next_upstream http_503` counts every 503 as a failed attempt,
 * and with `max_fails=1` one such answer takes the replica out of rotation for
 * `fail_timeout`. A 503 also means "this shard is unavailable", which is about
 * the keys of one shard, not about the replica: counting it ejected every
 * replica whenever any request needed a dead shard primary, and every shard's
 * reads failed with it. So NGINX no longer retries on 503 (a shard's 503 goes
 * straight to the client, and the replica stays in rotation), and a replica
 * that wants a request served elsewhere (draining, overloaded) closes the
 * connection instead of answering: NGINX treats that as an upstream error,
 * resends an idempotent request to the next replica, and skips this one for
 * `fail_timeout`, which is what a draining or overloaded replica wants.
 *
 * NGINX marks the requests it forwards with `X-Tessera-Edge`; a direct caller
 * (an operator, a test, a health probe) gets an explicit 503 problem instead
 * of a closed connection. The header only changes how a refusal is delivered,
 * so a client that forges it gains nothing.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The request header NGINX sets on every request it forwards. */
export const EDGE_HEADER = 'x-tessera-edge';

/** Methods a proxy may resend to another replica (RFC 9110 §9.2.2). */
export const RETRIABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Whether a refusal of this request should be a dropped connection that NGINX retries elsewhere. */
export function retryElsewhere(req: FastifyRequest): boolean {
  return req.headers[EDGE_HEADER] !== undefined && RETRIABLE_METHODS.has(req.method);
}

/**
 * Closes the request's connection without an answer. The reply is hijacked so
 * Fastify writes nothing more, and the caller must not continue the request's
 * lifecycle (no `done()`, no handler).
 */
export function dropForRetry(req: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  req.raw.socket.destroy();
}
