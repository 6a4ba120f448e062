import type { FastifyInstance } from 'fastify';
import { TesseraError } from '../../errors/catalog.js';

/** Whether a parsed JSON value holds a NUL character in any string or key. */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => k.includes('\u0000') || containsNul(v));
  }
  return false;
}

/**
 * PostgreSQL text and jsonb cannot hold U+0000, which JSON can (`"\u0000"`).
 * Refused here, with the other validation, so such a body never reaches a
 * database (where it would fail as a server error).
 */
export function installNulGuard(app: FastifyInstance): void {
  // A callback hook: it runs on every request, and an async one costs a promise each time.
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.body !== undefined && containsNul(req.body)) {
      done(new TesseraError('TESSERA_ERR_VALIDATION', 'body contains a NUL character (\\u0000), which cannot be stored', { extra: { field: 'body' } }));
      return;
    }
    done();
  });
}
