/**
 * The error catalog: every error a client can see, with its stable code and
 * HTTP status. Problem+json bodies carry `code`; 5xx bodies stay generic.
 */
export const ErrorCodes = {
  TESSERA_ERR_VALIDATION: { status: 400, title: 'Invalid request' },
  TESSERA_ERR_INVALID_JSON: { status: 400, title: 'Malformed JSON body' },
  TESSERA_ERR_INVALID_CURSOR: { status: 400, title: 'Invalid cursor' },
  /** Arrays and objects nested deeper than MAX_JSON_DEPTH (src/api/json-scan.ts). */
  TESSERA_ERR_JSON_TOO_DEEP: { status: 400, title: 'JSON nested too deeply' },
  /** A number a 64-bit float cannot give back as the same decimal (1e400, 9007199254740993). */
  TESSERA_ERR_JSON_INEXACT_NUMBER: { status: 400, title: 'Number cannot be stored exactly' },
  TESSERA_ERR_UNAUTHENTICATED: { status: 401, title: 'Missing or invalid bearer token' },
  TESSERA_ERR_INSUFFICIENT_SCOPE: { status: 403, title: 'Insufficient scope' },
  TESSERA_ERR_FORBIDDEN: { status: 403, title: 'Forbidden' },
  TESSERA_ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  TESSERA_ERR_USER_NOT_FOUND: { status: 404, title: 'User not found' },
  TESSERA_ERR_DOCUMENT_NOT_FOUND: { status: 404, title: 'Document not found' },
  TESSERA_ERR_ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  /** Sent with `Allow`, by the app for a wrong method on a path it serves, by NGINX for any method the API does not use. */
  TESSERA_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  TESSERA_ERR_EMAIL_TAKEN: { status: 409, title: 'Email already in use' },
  TESSERA_ERR_CONFLICT: { status: 409, title: 'Conflicting concurrent change' },
  TESSERA_ERR_PRECONDITION_FAILED: { status: 412, title: 'Precondition failed' },
  TESSERA_ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  TESSERA_ERR_URI_TOO_LONG: { status: 414, title: 'URI too long' },
  TESSERA_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  TESSERA_ERR_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  TESSERA_ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large' },
  TESSERA_ERR_INTERNAL: { status: 500, title: 'Internal error' },
  TESSERA_ERR_SHARD_UNAVAILABLE: { status: 503, title: 'Shard unavailable' },
  /** A sync shard's commit whose wait for a replica was cancelled: not acknowledged, though the primary has it. */
  TESSERA_ERR_COMMIT_UNCONFIRMED: { status: 503, title: 'Write not confirmed by a replica' },
  TESSERA_ERR_NOT_READY: { status: 503, title: 'Service not ready' },
  TESSERA_ERR_SHUTTING_DOWN: { status: 503, title: 'Shutting down' },
  TESSERA_ERR_OVERLOADED: { status: 503, title: 'Overloaded' },
  /** Sent by NGINX when no app replica answered. */
  TESSERA_ERR_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** An error meant for the client: its code fixes the status and title. */
export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra problem+json members (e.g. the offending field). */
  readonly extra: Record<string, unknown>;
  /** Seconds for a Retry-After header, where retrying helps. */
  readonly retryAfter: number | undefined;
  /** The shard the error is about, for the `x-tessera-shard` header. */
  readonly shard: string | undefined;

  constructor(code: ErrorCode, detail?: string, opts: { extra?: Record<string, unknown>; retryAfter?: number; cause?: unknown; shard?: string } = {}) {
    super(detail ?? ErrorCodes[code].title, { cause: opts.cause });
    this.name = 'TesseraError';
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.extra = opts.extra ?? {};
    this.retryAfter = opts.retryAfter;
    this.shard = opts.shard;
  }
}
