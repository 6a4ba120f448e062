import { randomUUID } from 'node:crypto';
import { serviceAuthHeaders } from './auth.js';
import { baseUrl } from './stack.js';

/** A response with its parsed body. */
export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Calls the API as a client would (through NGINX unless `base` says
 * otherwise), with a service token holding every scope unless `auth: false`
 * or the caller's own `authorization` header.
 */
export async function call<T = any>(
  method: string,
  path: string,
  opts: { body?: unknown; raw?: string; headers?: Record<string, string>; base?: string; auth?: boolean } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...(opts.auth === false ? {} : await serviceAuthHeaders()), ...opts.headers };
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${opts.base ?? baseUrl()}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

/** An email no other test uses. */
export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${randomUUID().slice(0, 12)}@example.com`;
}

/** Creates a user and returns it (fails the test on anything but 201). */
export async function createUser(fields: { email?: string; name?: string; profile?: Record<string, unknown> } = {}, base?: string) {
  const res = await call('POST', '/v1/users', { body: { email: fields.email ?? uniqueEmail(), name: fields.name ?? 'Test User', ...(fields.profile && { profile: fields.profile }) }, ...(base && { base }) });
  if (res.status !== 201) throw new Error(`create user: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}
