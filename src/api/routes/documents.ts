import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/catalog.js';
import type { DocumentService } from '../../users/document-service.js';
import { etagOf, parseIfMatch } from '../etag.js';
import { NoContent, DocPage, DocParams, Document, IfMatchHeaders, ListDocsQuery, UserIdParams } from '../schemas.js';

const problem = { $ref: 'Problem#' };

/** `/v1/users/:id/data`: per-user JSON documents. */
export const documentsRoutes: FastifyPluginAsyncTypebox<{ documents: DocumentService; maxDocBytes: number }> = async (app, { documents, maxDocBytes }) => {
  app.put(
    '/v1/users/:id/data/:key',
    {
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
      const { shard, value } = await documents.put(id, req.params.key, req.body, {
        ...(ifMatch !== undefined && { ifMatch }),
        ...(req.headers['if-none-match'] === '*' && { ifNoneMatch: '*' as const }),
      });
      return reply
        .code(value.created ? 201 : 200)
        .header('x-tessera-shard', shard)
        .header('etag', etagOf(value.doc.version))
        .header('location', `/v1/users/${id}/data/${req.params.key}`)
        .send(value.doc);
    },
  );

  app.get(
    '/v1/users/:id/data/:key',
    { schema: { tags: ['documents'], summary: 'Read a document', params: DocParams, response: { 200: Document, 404: problem } } },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const { shard, value } = await documents.get(id, req.params.key);
      void reply.header('x-tessera-shard', shard);
      if (!value) throw new TesseraError('TESSERA_ERR_DOCUMENT_NOT_FOUND', `no document ${req.params.key} for user ${id}`);
      return reply.header('etag', etagOf(value.version)).send(value);
    },
  );

  app.delete(
    '/v1/users/:id/data/:key',
    { schema: { tags: ['documents'], summary: 'Delete a document', params: DocParams, response: { 204: NoContent, 404: problem } } },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const { shard, value } = await documents.delete(id, req.params.key);
      void reply.header('x-tessera-shard', shard);
      if (!value) throw new TesseraError('TESSERA_ERR_DOCUMENT_NOT_FOUND', `no document ${req.params.key} for user ${id}`);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/users/:id/data',
    { schema: { tags: ['documents'], summary: "List a user's documents", params: UserIdParams, querystring: ListDocsQuery, response: { 200: DocPage, 404: problem } } },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const { shard, value } = await documents.list(id, {
        limit: req.query.limit,
        ...(req.query.prefix !== undefined && { prefix: req.query.prefix }),
        ...(req.query.cursor !== undefined && { cursor: req.query.cursor }),
      });
      return reply.header('x-tessera-shard', shard).send(value);
    },
  );
};
