/**
 * The server span of each request, by three Fastify hooks installed only
 * when tracing is on (with tracing off none of this runs):
 *
 * - `onRequest` continues the caller's W3C `traceparent` when there is one;
 *   otherwise it starts a root span whose trace id is the one NGINX logged
 *   (`X-Tessera-Trace-Id`, NGINX's request id), so that an access-log line
 *   leads to its trace. The request's id goes on the span and into the
 *   context, for log lines written anywhere while it is served.
 * - `preHandler` enters the span's context again: a body is parsed in
 *   socket callbacks, outside the context `onRequest` entered.
 * - `onResponse` names what served it: status, the cache tier, the shard
 *   and the read's source, from the response's own headers.
 *
 * Spans follow the HTTP semantic conventions: `{method} {route}`, kind
 * SERVER, `http.request.method`, `http.route`, `url.path`,
 * `http.response.status_code`; a 5xx is an error.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { REQUEST_ID_KEY } from './log-context.js';
import { startRootSpan } from './tracing.js';

/** The header NGINX sets with the trace id it logged (from `traceparent`, else its request id). */
export const NGINX_TRACE_ID_HEADER = 'x-tessera-trace-id';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's span and its context (tracing on only). */
    otel?: { span: Span; ctx: Context };
  }
}

/** Installs the hooks; call before any other hook so that everything after runs in the request's context. */
export function installRequestTracing(app: FastifyInstance, tracer: Tracer, appId: string | undefined): void {
  app.decorateRequest('otel', undefined);
  app.addHook('onRequest', (req, _reply, done) => {
    const route = req.routeOptions.url;
    const name = route ? `${req.method} ${route}` : req.method;
    const attributes = {
      'http.request.method': req.method,
      ...(route && { 'http.route': route }),
      'url.path': req.url.split('?', 1)[0] ?? '/',
      'tessera.request_id': req.id,
      ...(appId && { 'tessera.app': appId }),
    };
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = trace.getSpanContext(parent)
      ? tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent)
      : startRootSpan(name, { kind: SpanKind.SERVER, attributes }, headerValue(req, NGINX_TRACE_ID_HEADER));
    const ctx = trace.setSpan(parent, span).setValue(REQUEST_ID_KEY, req.id);
    req.otel = { span, ctx };
    // An unsampled request records nothing below it: it enters no context,
    // so that it costs no more than creating this span (its trace id still
    // reaches its request log lines and problem bodies through req.otel).
    if (span.isRecording()) context.with(ctx, done);
    else done();
  });
  app.addHook('preHandler', (req, _reply, done) => {
    if (req.otel?.span.isRecording()) context.with(req.otel.ctx, done);
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
  app.addHook('onRequestAbort', (req, done) => {
    const span = req.otel?.span;
    if (span) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the connection' });
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

function headerValue(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}
