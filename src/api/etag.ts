/**
 * Entity tags and conditional requests (RFC 9110 §8.8.3, §13).
 *
 * A resource's entity tag is its row version, quoted and strong: `"3"`.
 * `If-Match` and `If-None-Match` take `*` or a comma-separated list of tags;
 * a header that is neither is a 400 (the route schemas hold
 * {@link ENTITY_TAG_LIST_PATTERN}). `If-Match` compares strongly, so `W/"3"`
 * never matches; `If-None-Match` compares weakly. Preconditions are evaluated
 * in RFC order, and only for a resource the request could otherwise act on:
 * a request that would be a 404 without them is a 404 with them.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { TesseraError } from '../errors/catalog.js';
import type { VersionCheck } from '../users/user-service.js';

/** Entity tags are the row version, quoted: `"3"`. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/** One entity tag: `W/"x"` is weak, `"x"` strong; `opaque` is what is between the quotes. */
export interface EntityTag {
  weak: boolean;
  opaque: string;
}

/** `*`, or the tags of a list. */
export type EntityTagCondition = '*' | EntityTag[];

// etagc = %x21 / %x23-7E / obs-text; lists may hold empty elements (RFC 9110 §5.6.1.2).
const TAG = '(?:W/)?"[\\x21\\x23-\\x7E\\x80-\\xFF]*"';

/** `If-Match` / `If-None-Match`: `*` or a list of entity tags, as a JSON-schema pattern. */
export const ENTITY_TAG_LIST_PATTERN = `^(?:\\*|(?:[ \\t]*,)*[ \\t]*${TAG}(?:[ \\t]*,(?:[ \\t]*${TAG})?)*[ \\t]*)$`;

/** The name of that grammar as a JSON-schema `format`. */
export const ENTITY_TAGS_FORMAT = 'entity-tags';

const LIST = new RegExp(ENTITY_TAG_LIST_PATTERN);
const EACH_TAG = /(W\/)?"([^"]*)"/g;

/** Parses an `If-Match` or `If-None-Match` value; null when it is malformed. */
export function parseEntityTags(value: string): EntityTagCondition | null {
  if (!LIST.test(value)) return null;
  if (value === '*') return '*';
  return [...value.matchAll(EACH_TAG)].map((m) => ({ weak: m[1] !== undefined, opaque: m[2] ?? '' }));
}

/** The preconditions of one request. */
export interface Preconditions {
  ifMatch?: EntityTagCondition;
  ifNoneMatch?: EntityTagCondition;
}

/**
 * RFC 9110 §13.2.2, steps 1 and 3, for a resource at `version` (undefined:
 * it does not exist). `safe` is GET or HEAD, where a matching
 * `If-None-Match` means 304 rather than 412.
 */
export function evaluatePreconditions(pre: Preconditions, version: number | undefined, safe: boolean): 'proceed' | 304 | 412 {
  const current = version === undefined ? undefined : String(version);
  if (pre.ifMatch !== undefined) {
    const holds = current !== undefined && (pre.ifMatch === '*' || pre.ifMatch.some((t) => !t.weak && t.opaque === current));
    if (!holds) return 412;
  }
  if (pre.ifNoneMatch !== undefined && current !== undefined) {
    const matches = pre.ifNoneMatch === '*' || pre.ifNoneMatch.some((t) => t.opaque === current);
    if (matches) return safe ? 304 : 412;
  }
  return 'proceed';
}

function header(headers: IncomingHttpHeaders, name: 'if-match' | 'if-none-match'): EntityTagCondition | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  const parsed = parseEntityTags(value);
  if (parsed === null) throw new TesseraError('TESSERA_ERR_VALIDATION', `headers.${name} is not * or a list of entity tags such as "3"`, { extra: { field: `headers.${name}` } });
  return parsed;
}

/** The request's preconditions, or undefined when it has none (the common case, checked with two lookups). */
export function preconditionsOf(headers: IncomingHttpHeaders): Preconditions | undefined {
  if (headers['if-match'] === undefined && headers['if-none-match'] === undefined) return undefined;
  const ifMatch = header(headers, 'if-match');
  const ifNoneMatch = header(headers, 'if-none-match');
  return { ...(ifMatch !== undefined && { ifMatch }), ...(ifNoneMatch !== undefined && { ifNoneMatch }) };
}

/**
 * A write's preconditions as the check a service runs on the locked row:
 * it throws a 412 problem when they do not hold. Undefined without any.
 */
export function writeCheck(headers: IncomingHttpHeaders, what: string): VersionCheck | undefined {
  const pre = preconditionsOf(headers);
  if (!pre) return undefined;
  return (version) => {
    if (evaluatePreconditions(pre, version, false) === 'proceed') return;
    const state = version === undefined ? `${what} does not exist` : `${what} is at version ${version} (ETag "${version}")`;
    throw new TesseraError('TESSERA_ERR_PRECONDITION_FAILED', `${state}; the request's If-Match/If-None-Match does not hold`, {
      extra: version === undefined ? {} : { currentVersion: version },
    });
  };
}
