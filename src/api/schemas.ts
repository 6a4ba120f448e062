import Type from 'typebox';
import { TOKEN_PATTERN } from '../db/lsn.js';
import { ENTITY_TAG_LIST_PATTERN, ENTITY_TAGS_FORMAT } from './etag.js';
import { DOCUMENT_KEY_PATTERN } from '../users/document-service.js';

/**
 * The JSON schemas of API v1. They validate every request (unknown fields are
 * errors, not silently dropped) and generate `/openapi.json`.
 */

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    code: Type.String({ description: 'Stable machine-readable error code (TESSERA_ERR_*)' }),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String({ description: 'The request id (X-Request-ID), as in the access logs and every log line about the request' })),
    traceId: Type.Optional(Type.String({ description: 'The W3C trace id of the request (the caller\'s traceparent, else the one NGINX logged), when it has one' })),
    field: Type.Optional(Type.String({ description: 'The request field at fault, where there is one' })),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details' },
);

/** Text PostgreSQL can store: anything but U+0000. */
const NO_NUL = '^[^\\u0000]*$';

/**
 * Any JSON value Tessera stores: strings and keys without U+0000. The JSON
 * body parser (src/api/json-scan.ts) adds what a schema cannot say: at most
 * 64 levels of nesting, no lone surrogates, and numbers a 64-bit float
 * gives back as the same decimal.
 */
export const JsonValue = {
  $id: 'JsonValue',
  description: 'Any JSON value: at most 64 levels deep, text without U+0000 or lone surrogates, numbers that a 64-bit float holds exactly (no 1e400, no 9007199254740993)',
  anyOf: [
    { type: 'null' },
    { type: 'boolean' },
    { type: 'number' },
    { type: 'string', pattern: NO_NUL },
    { type: 'array', items: { $ref: 'JsonValue#' } },
    { type: 'object', propertyNames: { pattern: NO_NUL }, additionalProperties: { $ref: 'JsonValue#' } },
  ],
} as const;

/** A JSON value as a request body or field. */
export const AnyJson = Type.Unsafe<unknown>({ $ref: 'JsonValue#' });

const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: NO_NUL });
const Profile = Type.Unsafe<Record<string, unknown>>({
  type: 'object',
  propertyNames: { pattern: NO_NUL },
  additionalProperties: { $ref: 'JsonValue#' },
  description: 'Free-form JSON object, at most TESSERA_MAX_PROFILE_BYTES',
});

export const User = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    name: Type.String(),
    profile: Type.Record(Type.String(), Type.Unknown()),
    version: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'User' },
);

export const Document = Type.Object(
  {
    key: Type.String(),
    value: Type.Unknown(),
    version: Type.Integer(),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Document' },
);

export const CreateUserBody = Type.Object({ email: Email, name: Name, profile: Type.Optional(Profile) }, { additionalProperties: false });

export const PatchUserBody = Type.Object(
  { email: Type.Optional(Email), name: Type.Optional(Name), profile: Type.Optional(Profile) },
  { additionalProperties: false, minProperties: 1 },
);

export const UserIdParams = Type.Object({ id: Type.String({ pattern: UUID_PATTERN }) }, { additionalProperties: false });

export const EmailParams = Type.Object({ email: Email }, { additionalProperties: false });

export const DocParams = Type.Object(
  { id: Type.String({ pattern: UUID_PATTERN }), key: Type.String({ pattern: DOCUMENT_KEY_PATTERN }) },
  { additionalProperties: false },
);

/** Page size when `limit` is not given. */
export const DEFAULT_LIMIT = 50;
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: DEFAULT_LIMIT }));
const Cursor = Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' });

export const ListUsersQuery = Type.Object({ limit: Limit, cursor: Type.Optional(Cursor) }, { additionalProperties: false });

export const ListDocsQuery = Type.Object(
  { limit: Limit, cursor: Type.Optional(Cursor), prefix: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._~:-]{0,200}$' })) },
  { additionalProperties: false },
);

// `format` names the grammar the pattern spells, for tools that generate values (see test/schemathesis/hooks.py).
const EntityTags = (description: string) => Type.Optional(Type.String({ format: ENTITY_TAGS_FORMAT, pattern: ENTITY_TAG_LIST_PATTERN, maxLength: 2048, description }));
const IfMatch = EntityTags('`*` or entity tags (`"3"`, `"3", "4"`): the request applies only if the current ETag is one of them (strong comparison: `W/"3"` never matches)');
const IfNoneMatch = EntityTags('`*` or entity tags: the request applies only if the current ETag is none of them (`*`: only if there is none); a read answers 304 instead');

/** The name of the consistency token's grammar as a JSON-schema `format` (see test/schemathesis/hooks.py). */
export const CONSISTENCY_TOKEN_FORMAT = 'consistency-token';

const Consistency = Type.Optional(
  Type.String({ format: CONSISTENCY_TOKEN_FORMAT, pattern: TOKEN_PATTERN, description: 'Token from a write response: read only from a source that has that write' }),
);

/** A read of one resource may present the consistency token of an earlier write (read-your-writes), and preconditions. */
export const ReadHeaders = Type.Object({ 'x-tessera-consistency': Consistency, 'if-match': IfMatch, 'if-none-match': IfNoneMatch });

/** A listing has no entity tag: only the consistency token. */
export const ListHeaders = Type.Object({ 'x-tessera-consistency': Consistency });

/** The preconditions of a write (RFC 9110 §13.1). */
export const WriteHeaders = Type.Object({ 'if-match': IfMatch, 'if-none-match': IfNoneMatch });

export const UserPage = Type.Object({ users: Type.Array(User), nextCursor: Type.Union([Type.String(), Type.Null()]) });
export const DocPage = Type.Object({ documents: Type.Array(Document), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const NoContent = Type.Null({ description: 'No content' });
