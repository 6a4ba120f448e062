import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../errors/catalog.js';
import { ErrorCodes, TesseraError } from '../errors/catalog.js';
import { traceIdOf } from '../observability/log-context.js';
import type { AllowedMethods } from './allowed-methods.js';

/** Fastify's own client errors, mapped onto the catalog. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'TESSERA_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'TESSERA_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'TESSERA_ERR_INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'TESSERA_ERR_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'TESSERA_ERR_INVALID_JSON',
};

/**
 * Sends an RFC 9457 problem+json response. Besides `instance` (the path),
 * it names the request (`requestId`, as in NGINX's access log and every log
 * line about it) and its trace (`traceId`, when the caller, NGINX or the
 * tracer gave it one), so that an error a client reports leads to its logs
 * and its spans.
 */
export function sendProblem(req: FastifyRequest, reply: FastifyReply, code: ErrorCode, detail: string | undefined, extra: Record<string, unknown> = {}): FastifyReply {
  const { status, title } = ErrorCodes[code];
  const traceId = traceIdOf(req);
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: `urn:tessera:error:${code}`, title, status, detail, code, instance: req.url, requestId: req.id, ...(traceId && { traceId }), ...extra });
}

interface ValidationIssue {
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Names the field a schema error is about, e.g. `body.email`, `querystring.limit`. */
function fieldOf(context: string | undefined, issue: ValidationIssue): string {
  const path = issue.instancePath.split('/').filter(Boolean);
  const extraProp = issue.params?.['additionalProperty'] ?? issue.params?.['missingProperty'];
  if (typeof extraProp === 'string') path.push(extraProp);
  return [context ?? 'request', ...path].join('.');
}

const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the error handler needs to know of the service. */
export interface ErrorHandlerOptions {
  /** The shard that owns a user id, for `x-tessera-shard` on errors about one user. */
  shardOf?: (userId: string) => string;
  /** The methods a path allows: a wrong method on a known path is 405 with `Allow`, not 404. */
  allowedMethods?: AllowedMethods;
}

/** One error handler for the whole API: client errors as 4xx problems, everything else a generic 500; unknown routes 404, wrong methods 405. */
export function installErrorHandlers(app: FastifyInstance, opts: ErrorHandlerOptions = {}): void {
  const { shardOf } = opts;
  app.setErrorHandler((error: FastifyError, req, reply) => {
    const id = (req.params as { id?: unknown } | undefined)?.id;
    if (shardOf && !error.validation && typeof id === 'string' && USER_ID.test(id) && !reply.hasHeader('x-tessera-shard')) {
      void reply.header('x-tessera-shard', shardOf(id.toLowerCase()));
    }
    if (error instanceof TesseraError) {
      if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
      if (error.shard !== undefined) void reply.header('x-tessera-shard', error.shard);
      if (error.status >= 500) req.log.warn({ err: error.cause ?? error, code: error.code, traceId: traceIdOf(req) }, error.message);
      return sendProblem(req, reply, error.code, error.message, error.extra);
    }
    if (error.validation) {
      const issue = error.validation[0] as ValidationIssue | undefined;
      const field = issue ? fieldOf(error.validationContext, issue) : error.validationContext ?? 'request';
      const why = issue?.params?.['additionalProperty'] ? 'is not a known field' : issue?.message ?? 'is invalid';
      return sendProblem(req, reply, 'TESSERA_ERR_VALIDATION', `${field} ${why}`, { field });
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped) return sendProblem(req, reply, mapped, error.message);
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(req, reply, error.statusCode === 413 ? 'TESSERA_ERR_PAYLOAD_TOO_LARGE' : 'TESSERA_ERR_VALIDATION', error.message);
    }
    req.log.error({ err: error, traceId: traceIdOf(req) }, 'unhandled error');
    return sendProblem(req, reply, 'TESSERA_ERR_INTERNAL', 'internal error; see the server log for the request id');
  });

  const { allowedMethods } = opts;
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    const allow = allowedMethods?.(path) ?? [];
    if (allow.length === 0) return sendProblem(req, reply, 'TESSERA_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${path}`);
    void reply.header('allow', allow.join(', '));
    if (req.method === 'OPTIONS') return reply.code(204).send();
    return sendProblem(req, reply, 'TESSERA_ERR_METHOD_NOT_ALLOWED', `${path} allows ${allow.join(', ')}, not ${req.method}`);
  });
}

/**
 * Fastify's `frameworkErrors`: errors found while routing, before any hook
 * runs (a path that does not percent-decode to UTF-8, a parameter longer
 * than `maxParamLength`), as problems instead of Fastify's own JSON.
 */
export function frameworkErrors(error: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') sendProblem(req, reply, 'TESSERA_ERR_URI_TOO_LONG', 'a path segment is longer than any parameter can be');
  else if (error.code === 'FST_ERR_BAD_URL') sendProblem(req, reply, 'TESSERA_ERR_VALIDATION', 'the path is not valid percent-encoded UTF-8', { field: 'path' });
  else {
    req.log.error({ err: error, traceId: traceIdOf(req) }, 'routing error');
    sendProblem(req, reply, 'TESSERA_ERR_INTERNAL', 'internal error; see the server log for the request id');
  }
}

const CLIENT_ERRORS: Record<string, { status: number; code: ErrorCode; detail: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'TESSERA_ERR_HEADERS_TOO_LARGE', detail: 'the request headers are larger than the server accepts' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'TESSERA_ERR_VALIDATION', detail: 'the request was not received in time' },
};

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refused
 * (headers too large, malformed request line, unknown method). There is no
 * request object, so the problem is written to the socket, which is then
 * closed, as Node does. Through NGINX most of these are answered at the edge.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const known = CLIENT_ERRORS[err.code ?? ''] ?? { status: 400, code: 'TESSERA_ERR_VALIDATION' as const, detail: 'malformed request' };
  const { title } = ErrorCodes[known.code];
  const body = JSON.stringify({ type: `urn:tessera:error:${known.code}`, title, status: known.status, detail: known.detail, code: known.code });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${known.status} ${title}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/problem+json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
