import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { TesseraError } from '../../errors/catalog.js';
import type { UserService } from '../../users/user-service.js';
import { parseToken } from '../../db/lsn.js';
import { etagOf, preconditionsOf, writeCheck } from '../etag.js';
import { problems } from '../openapi.js';
import { markWrite, sendRead } from '../reads.js';
import { NoContent, CreateUserBody, DEFAULT_LIMIT, EmailParams, ListUsersQuery, PatchUserBody, ReadHeaders, User, UserIdParams, UserPage, WriteHeaders } from '../schemas.js';
import { needs } from '../plugins/auth.js';

const notModified = { 304: { ...NoContent, description: 'Not modified: the ETag matches If-None-Match' } };

/** `/v1/users`: thin handlers over {@link UserService}. */
export const usersRoutes: FastifyPluginAsyncTypebox<{ users: UserService; maxProfileBytes: number }> = async (app, { users, maxProfileBytes }) => {
  const checkProfile = (profile: Record<string, unknown> | undefined) => {
    if (profile !== undefined && Buffer.byteLength(JSON.stringify(profile)) > maxProfileBytes) {
      throw new TesseraError('TESSERA_ERR_PAYLOAD_TOO_LARGE', `profile is larger than ${maxProfileBytes} bytes`, { extra: { field: 'body.profile' } });
    }
  };

  app.post(
    '/v1/users',
    {
      config: needs.create,
      schema: {
        operationId: 'createUser',
        tags: ['users'],
        summary: 'Create a user',
        body: CreateUserBody,
        response: { 201: User, ...problems(409, 413, 415) },
      },
    },
    async (req, reply) => {
      checkProfile(req.body.profile);
      const { shard, value, token } = await users.create(req.body);
      return markWrite(reply, shard, token).code(201).header('location', `/v1/users/${value.id}`).header('etag', etagOf(value.version)).send(value);
    },
  );

  app.get(
    '/v1/users',
    { config: needs.list, schema: { operationId: 'listUsers', tags: ['users'], summary: 'List every user in id order', querystring: ListUsersQuery, response: { 200: UserPage, ...problems() } } },
    async (req) => users.list(req.query.limit ?? DEFAULT_LIMIT, req.query.cursor),
  );

  app.get(
    '/v1/users/by-email/:email',
    {
      config: needs.read,
      schema: {
        operationId: 'getUserByEmail',
        tags: ['users'],
        summary: 'Find a user by email (case-insensitive)',
        params: EmailParams,
        headers: ReadHeaders,
        response: { 200: User, ...notModified, ...problems(404, 412) },
      },
    },
    async (req, reply) => {
      const pre = preconditionsOf(req.headers);
      // A user token finds only its own user: the look-up is of that user, compared by email.
      const read = await users.getByEmail(req.params.email, parseToken(req.headers['x-tessera-consistency']), req.caller?.userId);
      return sendRead(reply, read, () => new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user with email ${req.params.email}`), pre);
    },
  );

  app.get(
    '/v1/users/:id',
    {
      config: needs.read,
      schema: {
        operationId: 'getUser',
        tags: ['users'],
        summary: 'Read a user',
        params: UserIdParams,
        headers: ReadHeaders,
        response: { 200: User, ...notModified, ...problems(404, 412) },
      },
    },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const pre = preconditionsOf(req.headers);
      const read = await users.get(id, parseToken(req.headers['x-tessera-consistency']));
      return sendRead(reply, read, () => new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${id}`), pre);
    },
  );

  app.patch(
    '/v1/users/:id',
    {
      config: needs.write,
      schema: {
        operationId: 'patchUser',
        tags: ['users'],
        summary: 'Update some fields of a user',
        params: UserIdParams,
        headers: WriteHeaders,
        body: PatchUserBody,
        response: { 200: User, ...problems(404, 409, 412, 413, 415) },
      },
    },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      checkProfile(req.body.profile);
      const { shard, value, token } = await users.patch(id, req.body, writeCheck(req.headers, `user ${id}`));
      return markWrite(reply, shard, token).header('etag', etagOf(value.version)).send(value);
    },
  );

  app.delete(
    '/v1/users/:id',
    {
      config: needs.write,
      schema: {
        operationId: 'deleteUser',
        tags: ['users'],
        summary: 'Delete a user, its documents and its email claim',
        params: UserIdParams,
        headers: WriteHeaders,
        response: { 204: NoContent, ...problems(404, 412) },
      },
    },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const { shard, value, token } = await users.delete(id, writeCheck(req.headers, `user ${id}`));
      void markWrite(reply, shard, token);
      if (!value) throw new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${id}`);
      return reply.code(204).send(null);
    },
  );
};
