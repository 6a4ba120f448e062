import type { FastifyReply } from 'fastify';
import type { TesseraError } from '../errors/catalog.js';
import type { ConsistencyToken } from '../db/lsn.js';
import { formatToken } from '../db/lsn.js';
import type { ReadThrough } from '../users/user-service.js';
import { etagOf } from './etag.js';

/**
 * Sends a read that came through the caches. The entry already holds the
 * row as JSON text, so an L1 hit is sent without serialising anything.
 * Headers show the tiers at work: `x-tessera-cache` (l1, l2, miss) and, on a
 * miss, `x-tessera-source` (replica, primary).
 */
export function sendRead(reply: FastifyReply, read: ReadThrough, missing: () => TesseraError): FastifyReply {
  void reply.header('x-tessera-shard', read.shard).header('x-tessera-cache', read.tier);
  if (read.source) void reply.header('x-tessera-source', read.source);
  if (read.entry.kind !== 'data' || read.entry.json === undefined) throw missing();
  return reply.header('etag', etagOf(read.entry.v)).type('application/json; charset=utf-8').send(read.entry.json);
}

/** Marks a write's response with its read-your-writes token. */
export function markWrite(reply: FastifyReply, shard: string, token: ConsistencyToken): FastifyReply {
  return reply.header('x-tessera-shard', shard).header('x-tessera-consistency', formatToken(token));
}
