import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { TesseraError } from '../../errors/catalog.js';
import type { DocumentService } from '../../users/document-service.js';
import { parseToken } from '../../db/lsn.js';
import { etagOf, preconditionsOf, writeCheck } from '../etag.js';
import { problems } from '../openapi.js';
import { markWrite, sendRead } from '../reads.js';
import { AnyJson, DEFAULT_LIMIT, NoContent, DocPage, DocParams, Document, ListDocsQuery, ListHeaders, ReadHeaders, UserIdParams, WriteHeaders } from '../schemas.js';
import { needs } from '../plugins/auth.js';

/** `/v1/users/:id/data`: per-user JSON documents. */
export const documentsRoutes: FastifyPluginAsyncTypebox<{ documents: DocumentService; maxDocBytes: number }> = async (app, { documents, maxDocBytes }) => {
  app.put(
    '/v1/users/:id/data/:key',
    {
      config: needs.write,
      // The raw body limit is the document limit: an oversized value is 413 before parsing.
      bodyLimit: maxDocBytes,
      schema: {
        operationId: 'putDocument',
        tags: ['documents'],
        summary: 'Store a JSON document under a key',
        params: DocParams,
        headers: WriteHeaders,
        body: AnyJson,
        response: { 200: Document, 201: Document, ...problems(404, 409, 412, 413, 415) },
      },
    },
    async (req, reply) => {
      // No body at all is not JSON null (Fastify validates a missing body as null).
      if (req.body === undefined) throw new TesseraError('TESSERA_ERR_VALIDATION', 'a document needs a JSON body (send null to store null)', { extra: { field: 'body' } });
      const id = req.params.id.toLowerCase();
      const { shard, value, token } = await documents.put(id, req.params.key, req.body, writeCheck(req.headers, `document ${req.params.key}`));
      return markWrite(reply, shard, token)
        .code(value.created ? 201 : 200)
        .header('etag', etagOf(value.doc.version))
        .header('location', `/v1/users/${id}/data/${req.params.key}`)
        .send(value.doc);
    },
  );

  app.get(
    '/v1/users/:id/data/:key',
    {
      config: needs.read,
      schema: {
        operationId: 'getDocument',
        tags: ['documents'],
        summary: 'Read a document',
        params: DocParams,
        headers: ReadHeaders,
        response: { 200: Document, 304: { ...NoContent, description: 'Not modified: the ETag matches If-None-Match' }, ...problems(404, 412) },
      },
    },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const pre = preconditionsOf(req.headers);
      const read = await documents.get(id, req.params.key, parseToken(req.headers['x-tessera-consistency']));
      return sendRead(reply, read, () => new TesseraError('TESSERA_ERR_DOCUMENT_NOT_FOUND', `no document ${req.params.key} for user ${id}`), pre);
    },
  );

  app.delete(
    '/v1/users/:id/data/:key',
    {
      config: needs.write,
      schema: {
        operationId: 'deleteDocument',
        tags: ['documents'],
        summary: 'Delete a document',
        params: DocParams,
        headers: WriteHeaders,
        response: { 204: NoContent, ...problems(404, 412) },
      },
    },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const { shard, value, token } = await documents.delete(id, req.params.key, writeCheck(req.headers, `document ${req.params.key}`));
      void markWrite(reply, shard, token);
      if (!value) throw new TesseraError('TESSERA_ERR_DOCUMENT_NOT_FOUND', `no document ${req.params.key} for user ${id}`);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/users/:id/data',
    {
      config: needs.read,
      schema: {
        operationId: 'listDocuments',
        tags: ['documents'],
        summary: "List a user's documents",
        params: UserIdParams,
        headers: ListHeaders,
        querystring: ListDocsQuery,
        response: { 200: DocPage, ...problems(404) },
      },
    },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const { shard, value } = await documents.list(id, {
        limit: req.query.limit ?? DEFAULT_LIMIT,
        ...(req.query.prefix !== undefined && { prefix: req.query.prefix }),
        ...(req.query.cursor !== undefined && { cursor: req.query.cursor }),
        token: parseToken(req.headers['x-tessera-consistency']),
      });
      return reply.header('x-tessera-shard', shard).send(value);
    },
  );
};
