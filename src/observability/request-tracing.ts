/**
 * The server span of each request, by three Fastify hooks installed only
 * when tracing is on (with tracing off none of this runs):
 *
 * - `onRequest` asks the sampler first. The trace is the caller's W3C
 *   `traceparent` when there is one; otherwise the one NGINX logged
 *   (`X-Tessera-Trace-Id`, NGINX's request id), adopted for a root span, so
 *   that an access-log line leads to its trace. A request the sampler will
 *   not sample keeps its trace id (for its log lines and problem bodies) and
 *   nothing else; a sampled one gets its span, with the request's id on it
 *   and in the context, for log lines written anywhere while it is served.
 * - `preHandler` enters the span's context again: a body is parsed in
 *   socket callbacks, outside the context `onRequest` entered.
 * - `onResponse` names what served it: status, the cache tier, the shard
 *   and the read's source, from the response's own headers.
 *
 * No `onRequestAbort` hook: Fastify then adds a listener to every request,
 * which cost an L1 hit 15%. A request whose client leaves before the answer
 * never ends its span, so only its child spans are exported.
 *
 * Spans follow the HTTP semantic conventions: `{method} {route}`, kind
 * SERVER, `http.request.method`, `http.route`, `url.path`,
 * `http.response.status_code`; a 5xx is an error.
 */
import { randomUUID } from 'node:crypto';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';
import { REQUEST_ID_KEY } from './log-context.js';
import { startRootSpan } from './tracing.js';

/** The header NGINX sets with the trace id it logged (from `traceparent`, else its request id). */
export const NGINX_TRACE_ID_HEADER = 'x-tessera-trace-id';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's trace (tracing on only): its id always; the span and its
     * context only when the request is sampled.
     */
    otel?: { traceId: string; span?: Span; ctx?: Context };
  }
}

const TRACE_ID = /^[0-9a-f]{32}$/;
/** SamplingDecision.NOT_RECORD of the SDK (a type-only import keeps the SDK out of processes that do not trace). */
const NOT_RECORD = 0;

/** Installs the hooks; call before any other hook so that everything after runs in the request's context. */
export function installRequestTracing(app: FastifyInstance, tracer: Tracer, sampler: Sampler, appId: string | undefined): void {
  app.decorateRequest('otel', undefined);
  app.addHook('onRequest', (req, _reply, done) => {
    // The sampler first: a request it will not sample gets its trace id and
    // nothing else (no span, no context entered), so that tracing at 1% costs
    // the other 99% next to nothing.
    const parent = req.headers.traceparent === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, req.headers);
    const remote = trace.getSpanContext(parent);
    const nginx = req.headers[NGINX_TRACE_ID_HEADER];
    const traceId = remote?.traceId ?? (typeof nginx === 'string' && TRACE_ID.test(nginx) && !/^0+$/.test(nginx) ? nginx : randomUUID().replaceAll('-', ''));
    const route = req.routeOptions.url;
    const name = route ? `${req.method} ${route}` : req.method;
    if (sampler.shouldSample(parent, traceId, name, SpanKind.SERVER, {}, []).decision === NOT_RECORD) {
      req.otel = { traceId };
      done();
      return;
    }
    const attributes = {
      'http.request.method': req.method,
      ...(route && { 'http.route': route }),
      'url.path': req.url.split('?', 1)[0] ?? '/',
      'tessera.request_id': req.id,
      ...(appId && { 'tessera.app': appId }),
    };
    const span = remote
      ? tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent)
      : startRootSpan(name, { kind: SpanKind.SERVER, attributes }, traceId);
    const ctx = trace.setSpan(parent, span).setValue(REQUEST_ID_KEY, req.id);
    req.otel = { traceId, span, ctx };
    context.with(ctx, done);
  });
  app.addHook('preHandler', (req, _reply, done) => {
    const ctx = req.otel?.ctx;
    if (ctx) context.with(ctx, done);
    else done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const span = req.otel?.span;
    if (span) {
      const status = reply.statusCode;
      span.setAttribute('http.response.status_code', status);
      for (const [header, attr] of TIER_HEADERS) {
        const value = reply.getHeader(header);
        if (typeof value === 'string') span.setAttribute(attr, value);
      }
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}

/** Response headers that say what served a request, and their span attributes. */
const TIER_HEADERS: readonly (readonly [string, string])[] = [
  ['x-tessera-cache', 'tessera.cache.tier'],
  ['x-tessera-shard', 'tessera.shard'],
  ['x-tessera-source', 'tessera.shard.role'],
];

