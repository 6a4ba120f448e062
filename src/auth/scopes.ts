/**
 * Who may do what. Service tokens carry scopes and act for any user; user
 * tokens (`sub` = a user id) carry scopes too but reach only their own user.
 */

/** Read users and documents, by id or by email. */
export const READ = 'users:read';
/** Create, change and delete users and documents. */
export const WRITE = 'users:write';
/** List every user: enumeration is a right of its own. */
export const LIST = 'users:list';

/** Every scope a token may carry. */
export const SCOPES = [READ, WRITE, LIST] as const;
export type Scope = (typeof SCOPES)[number];

/** A verified caller, as the auth plugin leaves it on the request. */
export interface Caller {
  /** `service`: acts for any user within its scopes; `user`: only for `userId`. */
  kind: 'service' | 'user';
  /** Stable identity for rate limits and logs: `client:<client_id>` or `user:<uuid>`. */
  id: string;
  scopes: ReadonlySet<string>;
  /** The user a user token is for (lower-case UUID); undefined for services. */
  userId?: string;
}

/** What a route needs, declared in its options (`config.auth`) and checked by one hook. */
export interface RouteAuth {
  /** The scope the caller must hold. */
  scope: Scope;
  /**
   * `own`: user tokens may call it for their own user only (the `:id`
   * parameter must be theirs; any other id is answered 404 as if it did not
   * exist). `services`: user tokens may not call it at all (creating users,
   * listing every user).
   */
  users: 'own' | 'services';
}

/** Parses a `scope` claim (space-separated, RFC 8693) or a comma list (CLI). */
export function parseScopes(text: string | undefined): Set<string> {
  return new Set((text ?? '').split(/[\s,]+/).filter(Boolean));
}
