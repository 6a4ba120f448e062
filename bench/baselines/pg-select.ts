/**
 * Ceiling 3: the bare handler plus one primary-key SELECT of the user's row
 * on its shard primary (pool of the app's default size per shard). The
 * shard and ksid come precomputed from the runner, so no routing work here.
 */
import pg from 'pg';
import { POOL_SIZE, bareFastify, listen, loadUsers, primaries } from './common.js';

const users = loadUsers();
const pools = new Map(Object.entries(primaries()).map(([shard, url]) => [shard, new pg.Pool({ connectionString: url, max: POOL_SIZE })]));

const SQL = 'SELECT id, email, name, profile, version, created_at, updated_at FROM users WHERE ksid = $1 AND id = $2';

const app = bareFastify();
app.get<{ Params: { id: string } }>('/v1/users/:id', async (req, reply) => {
  const u = users.get(req.params.id);
  const pool = u && pools.get(u.shard);
  if (!u || !pool) return reply.code(404).send({ status: 404 });
  const { rows } = await pool.query(SQL, [u.ksidSql, u.id]);
  return rows[0] ?? reply.code(404).send({ status: 404 });
});
app.addHook('onClose', async () => {
  await Promise.all([...pools.values()].map((p) => p.end()));
});
await listen(app);
