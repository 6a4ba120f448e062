import { TesseraError } from '../errors/catalog.js';

/**
 * Opaque page cursors: base64url of a small JSON object. Opaque so clients
 * cannot depend on their shape; versioned so the shape can change.
 */
export function encodeCursor(after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, a: after }), 'utf8').toString('base64url');
}

/** Decodes a cursor made by {@link encodeCursor}; `check` validates the position. */
export function decodeCursor(cursor: string, check: (after: string) => boolean): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: unknown; a?: unknown };
    if (parsed.v === 1 && typeof parsed.a === 'string' && check(parsed.a)) return parsed.a;
  } catch {
    // fall through to the client error below
  }
  throw new TesseraError('TESSERA_ERR_INVALID_CURSOR', 'cursor is not one this service issued', { extra: { field: 'cursor' } });
}
