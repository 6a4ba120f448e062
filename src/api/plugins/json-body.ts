/**
 * The JSON body parser. It replaces Fastify's own so that every body is
 * checked before it is parsed:
 *
 * 1. the bytes are valid UTF-8 (Fastify's string parser would turn bad bytes
 *    into U+FFFD without a word), and a `charset`, if given, is UTF-8;
 * 2. one iterative pass ({@link scanJson}) refuses nesting deeper than
 *    {@link MAX_JSON_DEPTH}, NUL, lone surrogates and numbers a double cannot
 *    hold exactly: all of them would otherwise fail later as a server error,
 *    overflow the stack, or be stored changed;
 * 3. Fastify's default parser (secure-json-parse, which refuses `__proto__`
 *    keys) parses the text.
 *
 * Each refusal is a 400 problem with `field: "body"` and the offset of the
 * offending character.
 */
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TesseraError, type ErrorCode } from '../../errors/catalog.js';
import { scanJson, type JsonScanIssue } from '../json-scan.js';

const ISSUE_CODES: Record<JsonScanIssue['kind'], ErrorCode> = {
  'too-deep': 'TESSERA_ERR_JSON_TOO_DEEP',
  nul: 'TESSERA_ERR_VALIDATION',
  'lone-surrogate': 'TESSERA_ERR_VALIDATION',
  'inexact-number': 'TESSERA_ERR_JSON_INEXACT_NUMBER',
};

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/** Installs the checked JSON parser for `application/json` in place of Fastify's. */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req: FastifyRequest, body: Buffer | string, done) => {
    const charset = CHARSET.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new TesseraError('TESSERA_ERR_UNSUPPORTED_MEDIA_TYPE', `JSON bodies must be UTF-8, not ${charset}`));
      return;
    }
    if (typeof body !== 'string' && !isUtf8(body)) {
      done(new TesseraError('TESSERA_ERR_INVALID_JSON', 'body is not valid UTF-8', { extra: { field: 'body' } }));
      return;
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    const issue = scanJson(text);
    if (issue) {
      done(new TesseraError(ISSUE_CODES[issue.kind], issue.detail, { extra: { field: 'body', offset: issue.offset } }));
      return;
    }
    parse(req, text, done);
  });
}
