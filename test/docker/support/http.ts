/**
 * Calls the Docker stacks' API as a client would: JSON bodies, the suite's
 * bearer token unless the caller sends its own `authorization` (or asks for
 * none), the answer parsed.
 */
import { authHeaders } from './auth.js';

/** A response with its parsed body. */
export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export async function call<T = any>(
  method: string,
  path: string,
  opts: { base: string; body?: unknown; headers?: Record<string, string>; auth?: boolean },
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...(opts.auth === false ? {} : await authHeaders()), ...opts.headers };
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${opts.base}${path}`, { method, headers, body, signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}
