/**
 * What every baseline server shares: its port and inputs from the
 * environment (set by bench/baselines.ts), a Fastify instance configured like
 * a bare app (no logger, no plugins), and the user shape they all answer with.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';

/** One seeded user as the runner hands it to baselines (see bench/seed.ts). */
export interface SeededUser {
  id: string;
  /** ksid as PostgreSQL stores it (ksidToSql): baselines do no hashing of their own. */
  ksidSql: string;
  shard: string;
}

/** A user in the same shape (and about the same size) as Tessera's GET /v1/users/:id body. */
export const CONSTANT_USER = {
  id: '01900000-0000-7000-8000-000000000000',
  email: 'bench-0@example.com',
  name: 'Bench User 0',
  profile: {},
  version: 1,
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
};

export function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`baseline: ${name} is not set`);
  return v;
}

/** The seeded users by id (BENCH_USERS_FILE, written by the runner). */
export function loadUsers(): Map<string, SeededUser> {
  const users = JSON.parse(readFileSync(env('BENCH_USERS_FILE'), 'utf8')) as SeededUser[];
  return new Map(users.map((u) => [u.id, u]));
}

/** Shard name → primary URL (BENCH_PG_PRIMARIES, JSON). */
export function primaries(): Record<string, string> {
  return JSON.parse(env('BENCH_PG_PRIMARIES')) as Record<string, string>;
}

/** Same pool size per shard primary as an app replica's default (TESSERA_PG_POOL_SIZE). */
export const POOL_SIZE = 10;

export function bareFastify(): FastifyInstance {
  return Fastify({ logger: false, keepAliveTimeout: 65_000 });
}

/** Listens on BENCH_PORT (127.0.0.1) and says so on stdout, which the runner waits for. */
export async function listen(app: FastifyInstance): Promise<void> {
  const port = Number(env('BENCH_PORT'));
  await app.listen({ host: '127.0.0.1', port });
  process.stdout.write(`listening ${port}\n`);
  const stop = () => void app.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
