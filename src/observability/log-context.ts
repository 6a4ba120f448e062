/**
 * Request and trace ids on log lines and problem bodies.
 *
 * - Tracing on: every line written while a request is served, by any
 *   logger, carries `traceId` and `spanId` (pino's `mixin` reads the active
 *   span), and lines of the process logger also `reqId` (request loggers
 *   have it already), from the request's context.
 * - Tracing off: no context is kept per request (that is what would cost),
 *   so the trace id of a request line is read off its headers at the moment
 *   the line is written: `traceparent` from the caller, else the id NGINX
 *   logged. Request loggers carry `reqId` either way.
 */
import { context, createContextKey, trace } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';

/** The request id in a request's trace context. */
export const REQUEST_ID_KEY = createContextKey('tessera.request_id');

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;
const TRACE_ID = /^[0-9a-f]{32}$/;

/** The trace id a request belongs to: its span's, the caller's `traceparent`'s, or NGINX's; undefined if none. */
export function traceIdOf(req: FastifyRequest): string | undefined {
  if (req.otel) return req.otel.traceId;
  const tp = req.headers.traceparent;
  const fromCaller = typeof tp === 'string' ? TRACEPARENT.exec(tp)?.[1] : undefined;
  if (fromCaller && !/^0+$/.test(fromCaller)) return fromCaller;
  const nginx = req.headers['x-tessera-trace-id'];
  return typeof nginx === 'string' && TRACE_ID.test(nginx) ? nginx : undefined;
}

/**
 * pino options that add the active trace (and, on `root`'s own lines, the
 * request id) to every line written inside a traced request. Costs a context
 * read per log line, nothing per request.
 */
export function traceLogMixin(): Pick<LoggerOptions, 'mixin'> & { bindRoot(root: object): void } {
  let root: object | undefined;
  return {
    bindRoot(r) {
      root = r;
    },
    mixin(_merge, _level, logger) {
      const ctx = context.active();
      const span = trace.getSpan(ctx);
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      const reqId = logger === root ? ctx.getValue(REQUEST_ID_KEY) : undefined;
      return reqId === undefined ? { traceId, spanId } : { reqId, traceId, spanId };
    },
  };
}
