import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../errors/catalog.js';
import { ErrorCodes, TesseraError } from '../errors/catalog.js';

/** Fastify's own client errors, mapped onto the catalog. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'TESSERA_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'TESSERA_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'TESSERA_ERR_INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'TESSERA_ERR_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'TESSERA_ERR_INVALID_JSON',
};

/** Sends an RFC 9457 problem+json response. */
export function sendProblem(req: FastifyRequest, reply: FastifyReply, code: ErrorCode, detail: string | undefined, extra: Record<string, unknown> = {}): FastifyReply {
  const { status, title } = ErrorCodes[code];
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: `urn:tessera:error:${code}`, title, status, detail, code, instance: req.url, requestId: req.id, ...extra });
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
}

/** One error handler for the whole API: client errors as 4xx problems, everything else a generic 500. */
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
      if (error.status >= 500) req.log.warn({ err: error.cause ?? error, code: error.code }, error.message);
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
    req.log.error({ err: error }, 'unhandled error');
    return sendProblem(req, reply, 'TESSERA_ERR_INTERNAL', 'internal error; see the server log for the request id');
  });

  app.setNotFoundHandler((req, reply) => sendProblem(req, reply, 'TESSERA_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
}
