/**
 * A client span for every PostgreSQL statement and every Redis command made
 * inside a traced request, with the semantic-convention attributes
 * (`db.system.name`, `db.namespace`, `db.operation.name`, `db.query.text`,
 * `server.address`) plus what only Tessera knows: the shard, its role
 * (primary or replica) and the replica's name.
 *
 * Tessera's own hooks rather than the contrib pg and ioredis
 * instrumentations: those patch modules as they are `require`d, which needs
 * a loader hook under ESM, and cannot name the shard or role. Here each pool
 * and client is instrumented where Tessera creates it, and only when tracing
 * is on; statements with no recording span around them (replica probes,
 * map polling, unsampled requests) run untouched.
 */
import { SpanKind } from '@opentelemetry/api';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import { activeTracer, recordError, recordingSpan } from './tracing.js';

/** Where a pool's connections go, as span attributes. */
export interface PgTarget {
  shard?: string;
  role?: 'primary' | 'replica' | 'catalog';
  replica?: string;
  url: string;
}

const PATCHED = Symbol('tessera.traced');

function serverOf(url: string): { host: string; port: number; db: string } {
  try {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || 5432), db: decodeURIComponent(u.pathname.slice(1)) };
  } catch {
    return { host: '', port: 0, db: '' };
  }
}

const firstWord = (sql: string) => /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? 'QUERY';

/** Makes every statement of `pool`'s connections a span when tracing is on (nothing otherwise). */
export function instrumentPgPool(pool: pg.Pool, target: PgTarget): void {
  if (!activeTracer()) return;
  const { host, port, db } = serverOf(target.url);
  const base = {
    'db.system.name': 'postgresql',
    'db.namespace': db,
    'server.address': host,
    'server.port': port,
    ...(target.shard && { 'tessera.shard': target.shard }),
    ...(target.role && { 'tessera.shard.role': target.role }),
    ...(target.replica && { 'tessera.replica': target.replica }),
  };
  const label = target.shard ? `${target.shard}${target.role === 'replica' ? ` ${target.replica ?? 'replica'}` : ''}` : db;
  pool.on('connect', (client: pg.PoolClient & { [PATCHED]?: true }) => {
    if (client[PATCHED]) return;
    client[PATCHED] = true;
    const original = client.query as (...args: unknown[]) => unknown;
    client.query = function tracedQuery(this: pg.PoolClient, ...args: unknown[]): unknown {
      const tracer = activeTracer();
      const first = args[0] as string | { text?: string; submit?: unknown } | undefined;
      // Callback style and submittables (cursors, COPY streams) go through as they are.
      if (!tracer || !recordingSpan() || typeof args.at(-1) === 'function' || (typeof first === 'object' && typeof first?.submit === 'function')) {
        return original.apply(this, args);
      }
      const text = typeof first === 'string' ? first : first?.text ?? '';
      const op = firstWord(text);
      const span = tracer.startSpan(`${op} ${label}`, {
        kind: SpanKind.CLIENT,
        attributes: { ...base, 'db.operation.name': op, 'db.query.text': text.length > 2000 ? `${text.slice(0, 2000)}…` : text },
      });
      return (original.apply(this, args) as Promise<unknown>).then(
        (result) => {
          span.end();
          return result;
        },
        (err: unknown) => {
          recordError(span, err);
          span.end();
          throw err;
        },
      );
    } as typeof client.query;
  });
}

interface RedisCommand {
  name: string;
  promise: Promise<unknown>;
}

/** Makes every command of `redis` a span when tracing is on (nothing otherwise). */
export function instrumentRedis(redis: Redis, url: string, role: string): void {
  if (!activeTracer()) return;
  const { host, port } = serverOf(url);
  const base = { 'db.system.name': 'redis', 'server.address': host, 'server.port': port || 6379, 'tessera.redis.role': role };
  const send = redis.sendCommand.bind(redis) as (command: RedisCommand, stream?: unknown) => unknown;
  (redis as unknown as { sendCommand: typeof send }).sendCommand = (command, stream) => {
    const tracer = activeTracer();
    if (tracer && recordingSpan()) {
      const op = command.name.toUpperCase();
      const span = tracer.startSpan(op, { kind: SpanKind.CLIENT, attributes: { ...base, 'db.operation.name': op } });
      command.promise.then(
        () => span.end(),
        (err: unknown) => {
          recordError(span, err);
          span.end();
        },
      );
    }
    return send(command, stream);
  };
}
