/**
 * Ceiling 4: the bare handler plus one single-row INSERT … RETURNING on a
 * shard primary, into a table shaped like `users` but without Tessera's
 * fence trigger: what one durable write costs with nothing around it.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { POOL_SIZE, bareFastify, listen, primaries } from './common.js';

const pools = Object.values(primaries()).map((url) => new pg.Pool({ connectionString: url, max: POOL_SIZE }));

const DDL = `CREATE TABLE IF NOT EXISTS bench_insert (
  ksid bigint NOT NULL, id uuid NOT NULL, email text NOT NULL, name text NOT NULL,
  profile jsonb NOT NULL DEFAULT '{}'::jsonb, version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ksid, id))`;
await Promise.all(pools.map((p) => p.query(DDL)));

const SQL = `INSERT INTO bench_insert (ksid, id, email, name) VALUES ($1, $2, $3, $4)
  RETURNING id, email, name, profile, version, created_at, updated_at`;

let next = 0;
const app = bareFastify();
app.post<{ Body: { email: string; name: string } }>('/v1/users', async (req, reply) => {
  // Round-robin over the shard primaries, as hashed ids spread Tessera's inserts.
  const pool = pools[next++ % pools.length] as pg.Pool;
  const id = randomUUID();
  const ksid = BigInt.asIntN(64, BigInt(`0x${id.replace(/-/g, '').slice(0, 16)}`)).toString();
  const { rows } = await pool.query(SQL, [ksid, id, req.body.email, req.body.name]);
  return reply.code(201).send(rows[0]);
});
app.addHook('onClose', async () => {
  await Promise.all(pools.map((p) => p.end()));
});
await listen(app);
