/**
 * What `/openapi.json` says beyond the route schemas: the error responses of
 * each operation (problem+json, every status it can return) and the links
 * between operations that a client, or a stateful tester, follows from one
 * response to the next request.
 */
import type { SwaggerOptions } from '@fastify/swagger';

/** Why each error status happens, as the OpenAPI document says it. */
const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is invalid: the problem names the `field`',
  401: 'No valid bearer token',
  403: 'The token does not grant this operation',
  404: 'No such user or document',
  409: 'The email belongs to another user, or concurrent requests changed the resource',
  412: 'A precondition (`If-Match`, `If-None-Match`) does not hold',
  413: 'The body, a document or a profile is larger than allowed',
  415: 'The body is not JSON in UTF-8',
  429: 'Over the rate limit: retry after `Retry-After` seconds',
  503: 'A shard or the service is unavailable: retry after `Retry-After` seconds',
};

/** Statuses every `/v1` operation can answer: bad input, authentication, rate limit, unavailability. */
const EVERY_V1_OPERATION = [400, 401, 403, 429, 503];

/**
 * Error responses for a `/v1` operation: the statuses every one can return
 * plus `extra`, each as `application/problem+json` with the Problem schema.
 */
export function problems(...extra: number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const status of [...new Set([...EVERY_V1_OPERATION, ...extra])].sort()) {
    out[status] = { description: PROBLEM_DESCRIPTIONS[status], content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } };
  }
  return out;
}

const READ_YOUR_WRITE = { 'header.x-tessera-consistency': '$response.header.x-tessera-consistency' };
const USER_FROM_BODY = { id: '$response.body#/id' };
const USER_FROM_PATH = { id: '$request.path.id' };
const DOC_FROM_PATH = { id: '$request.path.id', key: '$request.path.key' };

/** OpenAPI links, by operation id and status: what a response lets the client do next. */
const LINKS: Record<string, Record<string, Record<string, { operationId: string; parameters: Record<string, string>; description?: string }>>> = {
  createUser: {
    201: {
      GetUser: { operationId: 'getUser', parameters: { ...USER_FROM_BODY, ...READ_YOUR_WRITE }, description: 'The new user, read with the write’s consistency token' },
      GetUserByEmail: { operationId: 'getUserByEmail', parameters: { email: '$response.body#/email', ...READ_YOUR_WRITE } },
      PatchUser: { operationId: 'patchUser', parameters: USER_FROM_BODY },
      DeleteUser: { operationId: 'deleteUser', parameters: USER_FROM_BODY },
      PutDocument: { operationId: 'putDocument', parameters: USER_FROM_BODY },
      ListDocuments: { operationId: 'listDocuments', parameters: { ...USER_FROM_BODY, ...READ_YOUR_WRITE } },
    },
  },
  patchUser: {
    200: { GetUser: { operationId: 'getUser', parameters: { ...USER_FROM_PATH, ...READ_YOUR_WRITE } } },
  },
  deleteUser: {
    204: { GetUser: { operationId: 'getUser', parameters: { ...USER_FROM_PATH, ...READ_YOUR_WRITE }, description: 'Now 404' } },
  },
  putDocument: {
    200: {
      GetDocument: { operationId: 'getDocument', parameters: { ...DOC_FROM_PATH, ...READ_YOUR_WRITE } },
      DeleteDocument: { operationId: 'deleteDocument', parameters: DOC_FROM_PATH },
    },
    201: {
      GetDocument: { operationId: 'getDocument', parameters: { ...DOC_FROM_PATH, ...READ_YOUR_WRITE } },
      DeleteDocument: { operationId: 'deleteDocument', parameters: DOC_FROM_PATH },
      ListDocuments: { operationId: 'listDocuments', parameters: { ...USER_FROM_PATH, ...READ_YOUR_WRITE } },
    },
  },
  deleteDocument: {
    204: { GetDocument: { operationId: 'getDocument', parameters: { ...DOC_FROM_PATH, ...READ_YOUR_WRITE }, description: 'Now 404' } },
  },
};

type OpenApiDocument = { paths?: Record<string, Record<string, { operationId?: string; responses?: Record<string, { links?: unknown }> }>> };

/** Adds {@link LINKS} to the generated document (@fastify/swagger has no field for them). */
function addLinks(doc: OpenApiDocument): OpenApiDocument {
  for (const operations of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(operations)) {
      const byStatus = op.operationId ? LINKS[op.operationId] : undefined;
      for (const [status, links] of Object.entries(byStatus ?? {})) {
        const response = op.responses?.[status];
        if (response) response.links = links;
      }
    }
  }
  return doc;
}

/** The @fastify/swagger options: the document's header (with the bearer scheme), and the links added to what the routes generate. */
export const swaggerOptions: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Tessera',
      version: '1.0.0',
      description:
        'Sharded, cached user records and per-user JSON documents. Errors are application/problem+json (RFC 9457) with a stable `code`. ' +
        'JSON bodies may nest at most 64 deep, may not hold U+0000 or lone surrogates, and each number must be one a 64-bit float gives back as the same decimal.',
    },
    tags: [{ name: 'users' }, { name: 'documents' }, { name: 'ops' }],
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            "A JWT signed with EdDSA or ES256 by a key of the service's JWKS, with `iss` and `aud` as configured. " +
            'Service tokens carry `client_id` and a `scope` claim (space-separated: users:read, users:write, users:list). ' +
            'User tokens carry `sub` = a user id and reach only that user (any other user id answers 404).',
        },
      },
    },
  },
  // Components named by their $id (Problem, JsonValue, User, …) rather than def-0, def-1, ….
  refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  transformObject: (documentObject) => addLinks(('openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject) as OpenApiDocument) as never,
};
