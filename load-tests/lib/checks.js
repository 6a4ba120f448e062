/** Response predicates for `check()`, so every scenario judges responses the same way. */
import { header, json } from './api.js';

export const status = (code) => (r) => r.status === code;
export const statusIn = (...codes) => (r) => codes.includes(r.status);

/** An RFC 9457 problem carrying our error `code` (e.g. `TESSERA_ERR_USER_NOT_FOUND`). */
export const problem = (code) => (r) => isProblem(r) && json(r)?.code === code;

export function isProblem(r) {
  return String(header(r, 'content-type') || '').startsWith('application/problem+json');
}

/** Every routed response names the shard that answered. */
export const hasShard = (r) => /\S/.test(String(header(r, 'x-tessera-shard') || ''));

/** A user as the API returns it. */
export function isUser(r) {
  const u = json(r);
  return typeof u?.id === 'string' && typeof u.email === 'string' && typeof u.name === 'string' && Number.isInteger(u.version);
}

export const ok = status(200);
export const stored = statusIn(200, 201);
