import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { TesseraError } from '../../errors/catalog.js';
import type { UserService } from '../../users/user-service.js';
import { parseToken } from '../../db/lsn.js';
import { etagOf, parseIfMatch } from '../etag.js';
import { markWrite, sendRead } from '../reads.js';
import { NoContent, CreateUserBody, EmailParams, IfMatchHeaders, ListUsersQuery, PatchUserBody, ReadHeaders, User, UserIdParams, UserPage } from '../schemas.js';
import { needs } from '../plugins/auth.js';

const problem = { $ref: 'Problem#' };

/** `/v1/users`: thin handlers over {@link UserService}. */
export const usersRoutes: FastifyPluginAsyncTypebox<{ users: UserService; maxProfileBytes: number }> = async (app, { users, maxProfileBytes }) => {
  const checkProfile = (profile: Record<string, unknown> | undefined) => {
    if (profile !== undefined && Buffer.byteLength(JSON.stringify(profile)) > maxProfileBytes) {
      throw new TesseraError('TESSERA_ERR_PAYLOAD_TOO_LARGE', `profile is larger than ${maxProfileBytes} bytes`, { extra: { field: 'body.profile' } });
    }
  };

  app.post(
    '/v1/users',
    { config: needs.create, schema: { tags: ['users'], summary: 'Create a user', body: CreateUserBody, response: { 201: User, 400: problem, 409: problem } } },
    async (req, reply) => {
      checkProfile(req.body.profile);
      const { shard, value, token } = await users.create(req.body);
      return markWrite(reply, shard, token).code(201).header('location', `/v1/users/${value.id}`).header('etag', etagOf(value.version)).send(value);
    },
  );

  app.get(
    '/v1/users',
    { config: needs.list, schema: { tags: ['users'], summary: 'List every user in id order', querystring: ListUsersQuery, response: { 200: UserPage, 400: problem } } },
    async (req) => users.list(req.query.limit, req.query.cursor),
  );

  app.get(
    '/v1/users/by-email/:email',
    { config: needs.read, schema: { tags: ['users'], summary: 'Find a user by email (case-insensitive)', params: EmailParams, headers: ReadHeaders, response: { 200: User, 404: problem } } },
    async (req, reply) => {
      // A user token finds only its own user: the look-up is of that user, compared by email.
      const read = await users.getByEmail(req.params.email, parseToken(req.headers['x-tessera-consistency']), req.caller?.userId);
      return sendRead(reply, read, () => new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user with email ${req.params.email}`));
    },
  );

  app.get(
    '/v1/users/:id',
    { config: needs.read, schema: { tags: ['users'], summary: 'Read a user', params: UserIdParams, headers: ReadHeaders, response: { 200: User, 404: problem } } },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const read = await users.get(id, parseToken(req.headers['x-tessera-consistency']));
      return sendRead(reply, read, () => new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${id}`));
    },
  );

  app.patch(
    '/v1/users/:id',
    {
      config: needs.write,
      schema: {
        tags: ['users'],
        summary: 'Update some fields of a user',
        params: UserIdParams,
        headers: IfMatchHeaders,
        body: PatchUserBody,
        response: { 200: User, 404: problem, 409: problem, 412: problem },
      },
    },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      checkProfile(req.body.profile);
      const ifMatch = parseIfMatch(req.headers['if-match']);
      const { shard, value, token } = await users.patch(id, req.body, ifMatch === '*' ? undefined : ifMatch);
      return markWrite(reply, shard, token).header('etag', etagOf(value.version)).send(value);
    },
  );

  app.delete(
    '/v1/users/:id',
    { config: needs.write, schema: { tags: ['users'], summary: 'Delete a user, its documents and its email claim', params: UserIdParams, response: { 204: NoContent, 404: problem } } },
    async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const { shard, value, token } = await users.delete(id);
      void markWrite(reply, shard, token);
      if (!value) throw new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${id}`);
      return reply.code(204).send(null);
    },
  );
};
