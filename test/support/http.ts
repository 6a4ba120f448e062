import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
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

/**
 * Sends a request with its path exactly as given, for what `fetch` would
 * rewrite first (WHATWG URLs resolve `.`, `..` and `%2E` segments) or refuses
 * to send (TRACE, CONNECT, unknown methods, oversized headers). Sends a
 * service token like {@link call} unless `auth: false`.
 */
export async function rawCall(method: string, path: string, opts: { headers?: Record<string, string>; body?: string; base?: string; auth?: boolean } = {}): Promise<Reply> {
  const url = new URL(opts.base ?? baseUrl());
  const headers: Record<string, string> = { ...(opts.auth === false ? {} : await serviceAuthHeaders()), ...opts.headers };
  return new Promise((resolve, reject) => {
    const settle = (res: IncomingMessage, raw: Buffer) => {
      const text = raw.toString('utf8');
      let body: unknown = text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      resolve({ status: res.statusCode ?? 0, headers, body });
    };
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => settle(res, Buffer.concat(chunks)));
      res.on('error', reject);
    });
    // Node hands the answer to a CONNECT over as a tunnel: read the body off the socket.
    req.on('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      const length = Number(res.headers['content-length'] ?? 0);
      let raw = head;
      const done = () => {
        socket.destroy();
        settle(res, raw.subarray(0, length));
      };
      if (raw.length >= length) return done();
      socket.on('data', (c: Buffer) => {
        raw = Buffer.concat([raw, c]);
        if (raw.length >= length) done();
      });
      socket.on('end', done);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
