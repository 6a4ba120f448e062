import type pg from 'pg';
import { TesseraError } from '../errors/catalog.js';
import { sqlState } from '../db/errors.js';
import type { RoutedDb } from '../db/routed.js';
import { ksidToSql } from '../routing/keyrange.js';
import type { Router } from '../routing/router.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { Document, DocumentRow } from './model.js';
import { DOCUMENT_COLUMNS, toDocument } from './model.js';
import type { CacheEntry } from '../cache/entry.js';
import { notFound } from '../cache/entry.js';
import type { TieredCache } from '../cache/tiered.js';
import type { ConsistencyToken } from '../db/lsn.js';
import type { OnShard, ReadThrough, Written } from './user-service.js';

/** Cache key of one document. */
export const documentKey = (userId: string, key: string) => `d:${userId}:${key}`;

const docEntry = (row: DocumentRow | undefined): CacheEntry =>
  row ? { kind: 'data', e: Number(row.created_us), v: Number(row.version), json: JSON.stringify(toDocument(row)) } : notFound();

/**
 * The characters a document key may use: URL-safe without escaping. `.` and
 * `..` are not keys: URL clients resolve such path segments away (even
 * escaped as `%2E`), so a document under them could never be read back.
 */
export const DOCUMENT_KEY_PATTERN = '^(?!\\.{1,2}$)[A-Za-z0-9._~:-]{1,200}$';
const KEY_RE = new RegExp(DOCUMENT_KEY_PATTERN);

/** Preconditions of a PUT: `ifMatch` a version or `*` (must exist); `ifNoneMatch` `*` (must not exist). */
export interface PutConditions {
  ifMatch?: number | '*';
  ifNoneMatch?: '*';
}

/** Per-user JSON documents, stored on the user's shard beside the user row. */
export class DocumentService {
  constructor(
    private readonly router: Router,
    private readonly db: RoutedDb,
    private readonly cache: TieredCache,
  ) {}

  /** Stores `value` under `key`. `created` tells 201 from 200. */
  async put(userId: string, key: string, value: unknown, cond: PutConditions = {}): Promise<Written<{ doc: Document; created: boolean }>> {
    const ksid = this.router.userKsid(userId);
    const written = await this.#write(ksid, userId, key, value, cond);
    const { row } = written.value;
    await this.cache.written(documentKey(userId, key), { e: Number(row.created_us), v: Number(row.version) });
    return {
      shard: written.shard,
      value: { doc: toDocument(row), created: written.value.created },
      token: { shard: written.shard, lsn: written.lsn },
    };
  }

  #write(ksid: bigint, userId: string, key: string, value: unknown, cond: PutConditions) {
    const k = ksidToSql(ksid);
    const json = JSON.stringify(value);
    return this.db.tx(ksid, async ({ client }) => {
      if (cond.ifMatch !== undefined) {
        const res = await client.query<DocumentRow>(
          `UPDATE documents SET value = $4::jsonb, version = version + 1, updated_at = now()
           WHERE ksid = $1 AND user_id = $2 AND key = $3 AND ($5::bigint IS NULL OR version = $5)
           RETURNING ${DOCUMENT_COLUMNS}`,
          [k, userId, key, json, cond.ifMatch === '*' ? null : cond.ifMatch],
        );
        const row = res.rows[0];
        if (!row) throw await this.#preconditionFailure(client, k, userId, key, cond.ifMatch);
        return { row, created: false };
      }
      try {
        const res = await client.query<DocumentRow & { inserted: boolean }>(
          `INSERT INTO documents (ksid, user_id, key, value) VALUES ($1, $2, $3, $4::jsonb)
           ON CONFLICT (ksid, user_id, key) DO ${cond.ifNoneMatch === '*' ? 'NOTHING' : 'UPDATE SET value = EXCLUDED.value, version = documents.version + 1, updated_at = now()'}
           RETURNING ${DOCUMENT_COLUMNS}, (xmax = 0) AS inserted`,
          [k, userId, key, json],
        );
        const row = res.rows[0];
        if (!row) throw new TesseraError('TESSERA_ERR_PRECONDITION_FAILED', `document ${key} already exists (If-None-Match: *)`);
        return { row, created: row.inserted };
      } catch (err) {
        // The foreign key to users says the user does not exist.
        if (sqlState(err) === '23503') throw new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${userId}`);
        throw err;
      }
    });
  }

  async #preconditionFailure(client: pg.PoolClient, k: string, userId: string, key: string, ifMatch: number | '*'): Promise<TesseraError> {
    const cur = await client.query<{ version: string }>('SELECT version FROM documents WHERE ksid = $1 AND user_id = $2 AND key = $3', [k, userId, key]);
    const user = await client.query('SELECT 1 FROM users WHERE ksid = $1 AND id = $2', [k, userId]);
    if (user.rowCount === 0) return new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${userId}`);
    const version = cur.rows[0]?.version;
    return new TesseraError(
      'TESSERA_ERR_PRECONDITION_FAILED',
      version === undefined ? `document ${key} does not exist (If-Match: ${ifMatch})` : `document ${key} is at version ${version}, not ${ifMatch}`,
      { extra: version === undefined ? {} : { currentVersion: Number(version) } },
    );
  }

  /** Reads one document through L1 → L2 → a fresh replica → the primary. */
  async get(userId: string, key: string, token?: ConsistencyToken): Promise<ReadThrough> {
    const ksid = this.router.userKsid(userId);
    const shard = this.db.ownerOf(ksid);
    const sql = (client: pg.ClientBase) =>
      client.query<DocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE ksid = $1 AND user_id = $2 AND key = $3`, [ksidToSql(ksid), userId, key]);
    const read = await this.cache.read(
      documentKey(userId, key),
      async (primary) => {
        const r = primary ? { ...(await this.db.onPrimary(ksid, ({ client }) => sql(client))), source: 'primary' as const } : await this.db.read(ksid, sql, token);
        return { entry: docEntry(r.value.rows[0]), source: r.source, shard: r.shard };
      },
      token !== undefined && token.shard === shard,
    );
    return { ...read, shard: read.shard ?? shard };
  }

  /** Deletes one document; false if there was none. */
  async delete(userId: string, key: string): Promise<Written<boolean>> {
    const ksid = this.router.userKsid(userId);
    const { shard, value, lsn } = await this.db.tx(ksid, ({ client }) =>
      client.query<{ at: string }>(
        'DELETE FROM documents WHERE ksid = $1 AND user_id = $2 AND key = $3 RETURNING (extract(epoch FROM now()) * 1000000)::int8::text AS at',
        [ksidToSql(ksid), userId, key],
      ),
    );
    const at = value.rows[0]?.at;
    // A later incarnation of the key is created after `at`, so this floor refuses only older copies.
    if (at !== undefined) await this.cache.written(documentKey(userId, key), { e: Number(at), v: 0 });
    return { shard, value: at !== undefined, token: { shard, lsn } };
  }

  /** Lists a user's documents in key order; 404 when the user does not exist. */
  async list(
    userId: string,
    opts: { prefix?: string; limit: number; cursor?: string; token?: ConsistencyToken },
  ): Promise<OnShard<{ documents: Document[]; nextCursor: string | null }>> {
    const ksid = this.router.userKsid(userId);
    const after = opts.cursor === undefined ? '' : decodeCursor(opts.cursor, (a) => KEY_RE.test(a));
    const k = ksidToSql(ksid);
    const { shard, value } = await this.db.read(ksid, async (client) => {
      const user = await client.query('SELECT 1 FROM users WHERE ksid = $1 AND id = $2', [k, userId]);
      if (user.rowCount === 0) return undefined;
      const res = await client.query<DocumentRow>(
        `SELECT ${DOCUMENT_COLUMNS} FROM documents
         WHERE ksid = $1 AND user_id = $2 AND key > $3 AND starts_with(key, $4)
         ORDER BY key LIMIT $5`,
        [k, userId, after, opts.prefix ?? '', opts.limit + 1],
      );
      return res.rows;
    }, opts.token);
    if (!value) throw new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${userId}`);
    const page = value.slice(0, opts.limit);
    const last = page.at(-1);
    return { shard, value: { documents: page.map(toDocument), nextCursor: value.length > opts.limit && last ? encodeCursor(last.key) : null } };
  }
}
