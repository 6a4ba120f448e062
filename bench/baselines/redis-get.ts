/**
 * Ceiling 2: the bare handler plus one ioredis GET per request. At start it
 * stores one user JSON per seeded id under its own prefix, so each GET reads
 * a value of a user's size for the id asked (same Zipf traffic as Tessera).
 */
import { Redis } from 'ioredis';
import { CONSTANT_USER, bareFastify, env, listen, loadUsers } from './common.js';

const redis = new Redis(env('BENCH_REDIS_URL'), { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
const key = (id: string) => `bench:u:${id}`;

const ids = [...loadUsers().keys()];
for (let i = 0; i < ids.length; i += 5000) {
  const batch = redis.pipeline();
  for (const id of ids.slice(i, i + 5000)) batch.set(key(id), JSON.stringify({ ...CONSTANT_USER, id }));
  await batch.exec();
}

const app = bareFastify();
app.get<{ Params: { id: string } }>('/v1/users/:id', async (req, reply) => {
  const text = await redis.get(key(req.params.id));
  if (text === null) return reply.code(404).send({ status: 404 });
  return reply.type('application/json; charset=utf-8').send(text);
});
app.addHook('onClose', async () => void redis.disconnect());
await listen(app);
