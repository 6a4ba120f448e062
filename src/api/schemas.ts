import Type from 'typebox';
import { TOKEN_PATTERN } from '../db/lsn.js';
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
    requestId: Type.Optional(Type.String()),
    field: Type.Optional(Type.String({ description: 'The request field at fault, where there is one' })),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details' },
);

const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Profile = Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form JSON object, at most TESSERA_MAX_PROFILE_BYTES' });

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

const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 50 });
const Cursor = Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' });

export const ListUsersQuery = Type.Object({ limit: Limit, cursor: Type.Optional(Cursor) }, { additionalProperties: false });

export const ListDocsQuery = Type.Object(
  { limit: Limit, cursor: Type.Optional(Cursor), prefix: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._~:-]{0,200}$' })) },
  { additionalProperties: false },
);

/** A read may present the consistency token of an earlier write (read-your-writes). */
export const ReadHeaders = Type.Object({
  'x-tessera-consistency': Type.Optional(Type.String({ pattern: TOKEN_PATTERN, description: 'Token from a write response: read only from a source that has that write' })),
});

/** `If-Match`: `*`, or one entity tag of ours (`"3"`, weak or not). */
export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ pattern: '^(\\*|(W/)?"?[0-9]{1,18}"?)$' })),
  'if-none-match': Type.Optional(Type.String({ pattern: '^\\*$' })),
});

export const UserPage = Type.Object({ users: Type.Array(User), nextCursor: Type.Union([Type.String(), Type.Null()]) });
export const DocPage = Type.Object({ documents: Type.Array(Document), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const NoContent = Type.Null({ description: 'No content' });
