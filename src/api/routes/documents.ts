import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/catalog.js';
import type { DocumentService } from '../../users/document-service.js';
import { parseToken } from '../../db/lsn.js';
import { etagOf, parseIfMatch } from '../etag.js';
import { markWrite, sendRead } from '../reads.js';
import { NoContent, DocPage, DocParams, Document, IfMatchHeaders, ListDocsQuery, ReadHeaders, UserIdParams } from '../schemas.js';
import { needs } from '../plugins/auth.js';

const problem = { $ref: 'Problem#' };

/** `/v1/users/:id/data`: per-user JSON documents. */
export const documentsRoutes: FastifyPluginAsyncTypebox<{ documents: DocumentService; maxDocBytes: number }> = async (app, { documents, maxDocBytes }) => {
  app.put(
    '/v1/users/:id/data/:key',
    {
      config: needs.write,
      // The raw body limit is the document limit: an oversized value is 413 before parsing.
      bodyLimit: maxDocBytes,
      schema: {
        tags: ['documents'],
        summary: 'Store a JSON document under a key',
        params: DocParams,
        headers: IfMatchHeaders,
        body: Type.Unknown({ description: 'Any JSON value' }),
        response: { 200: Document, 201: Document, 404: problem, 412: problem, 413: problem },
      },
    },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const ifMatch = parseIfMatch(req.headers['if-match']);
      const { shard, value, token } = await documents.put(id, req.params.key, req.body, {
        ...(ifMatch !== undefined && { ifMatch }),
        ...(req.headers['if-none-match'] === '*' && { ifNoneMatch: '*' as const }),
      });
      return markWrite(reply, shard, token)
        .code(value.created ? 201 : 200)
        .header('etag', etagOf(value.doc.version))
        .header('location', `/v1/users/${id}/data/${req.params.key}`)
        .send(value.doc);
    },
  );

  app.get(
    '/v1/users/:id/data/:key',
    { config: needs.read, schema: { tags: ['documents'], summary: 'Read a document', params: DocParams, headers: ReadHeaders, response: { 200: Document, 404: problem } } },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const read = await documents.get(id, req.params.key, parseToken(req.headers['x-tessera-consistency']));
      return sendRead(reply, read, () => new TesseraError('TESSERA_ERR_DOCUMENT_NOT_FOUND', `no document ${req.params.key} for user ${id}`));
    },
  );

  app.delete(
    '/v1/users/:id/data/:key',
    { config: needs.write, schema: { tags: ['documents'], summary: 'Delete a document', params: DocParams, response: { 204: NoContent, 404: problem } } },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const { shard, value, token } = await documents.delete(id, req.params.key);
      void markWrite(reply, shard, token);
      if (!value) throw new TesseraError('TESSERA_ERR_DOCUMENT_NOT_FOUND', `no document ${req.params.key} for user ${id}`);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/users/:id/data',
    {
      config: needs.read,
      schema: { tags: ['documents'], summary: "List a user's documents", params: UserIdParams, headers: ReadHeaders, querystring: ListDocsQuery, response: { 200: DocPage, 404: problem } },
    },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const { shard, value } = await documents.list(id, {
        limit: req.query.limit,
        ...(req.query.prefix !== undefined && { prefix: req.query.prefix }),
        ...(req.query.cursor !== undefined && { cursor: req.query.cursor }),
        token: parseToken(req.headers['x-tessera-consistency']),
      });
      return reply.header('x-tessera-shard', shard).send(value);
    },
  );
};
