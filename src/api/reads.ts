import type { FastifyReply } from 'fastify';
import { TesseraError } from '../errors/catalog.js';
import type { ConsistencyToken } from '../db/lsn.js';
import { formatToken } from '../db/lsn.js';
import type { ReadThrough } from '../users/user-service.js';
import { etagOf, evaluatePreconditions, type Preconditions } from './etag.js';

/**
 * Sends a read that came through the caches. The entry already holds the
 * row as JSON text, so an L1 hit is sent without serialising anything.
 * Headers show the tiers at work: `x-tessera-cache` (l1, l2, miss) and, on a
 * miss, `x-tessera-source` (replica, primary). With preconditions, a
 * matching `If-None-Match` is 304 and a failing `If-Match` 412.
 */
export function sendRead(reply: FastifyReply, read: ReadThrough, missing: () => TesseraError, pre?: Preconditions): FastifyReply {
  void reply.header('x-tessera-shard', read.shard).header('x-tessera-cache', read.tier);
  if (read.source) void reply.header('x-tessera-source', read.source);
  if (read.entry.kind !== 'data' || read.entry.json === undefined) throw missing();
  void reply.header('etag', etagOf(read.entry.v));
  if (pre) {
    const outcome = evaluatePreconditions(pre, read.entry.v, true);
    if (outcome === 304) return reply.code(304).send();
    if (outcome === 412) throw new TesseraError('TESSERA_ERR_PRECONDITION_FAILED', `the version is ${read.entry.v} (ETag "${read.entry.v}"); If-Match does not hold`, { extra: { currentVersion: read.entry.v } });
  }
  return reply.type('application/json; charset=utf-8').send(read.entry.json);
}

/** Marks a write's response with its read-your-writes token. */
export function markWrite(reply: FastifyReply, shard: string, token: ConsistencyToken): FastifyReply {
  return reply.header('x-tessera-shard', shard).header('x-tessera-consistency', formatToken(token));
}
