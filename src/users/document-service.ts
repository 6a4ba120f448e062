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
import type { OnShard, ReadThrough, VersionCheck, Written } from './user-service.js';

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

/** Per-user JSON documents, stored on the user's shard beside the user row. */
export class DocumentService {
  constructor(
    private readonly router: Router,
    private readonly db: RoutedDb,
    private readonly cache: TieredCache,
  ) {}

  /**
   * Stores `value` under `key`. `created` tells 201 from 200. With `check`
   * (the request's preconditions), the row is locked and checked first.
   */
  async put(userId: string, key: string, value: unknown, check?: VersionCheck): Promise<Written<{ doc: Document; created: boolean }>> {
    const ksid = this.router.userKsid(userId);
    const written = await this.#write(ksid, userId, key, value, check);
    const { row } = written.value;
    await this.cache.written(documentKey(userId, key), { e: Number(row.created_us), v: Number(row.version) });
    return {
      shard: written.shard,
      value: { doc: toDocument(row), created: written.value.created },
      token: { shard: written.shard, lsn: written.lsn },
    };
  }

  async #write(ksid: bigint, userId: string, key: string, value: unknown, check: VersionCheck | undefined) {
    const json = JSON.stringify(value);
    const missingUser = (err: unknown) => {
      // The foreign key to users says the user does not exist.
      if (sqlState(err) === '23503') throw new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${userId}`);
      throw err;
    };
    if (check) {
      const params = [ksidToSql(ksid), userId, key, json];
      return this.db.tx(ksid, ({ client }) => this.#conditionalWrite(client, params, check).catch(missingUser));
    }
    // Without preconditions: one statement, sent with its commit in one round trip.
    const w = await this.db
      .commitOne<DocumentRow & { inserted: boolean }>(
        ksid,
        (_shard, q) =>
          `INSERT INTO documents (ksid, user_id, key, value) VALUES (${q(ksidToSql(ksid))}::bigint, ${q(userId)}::uuid, ${q(key)}, ${q(json)}::jsonb)
           ON CONFLICT (ksid, user_id, key) DO UPDATE SET value = EXCLUDED.value, version = documents.version + 1, updated_at = now()
           RETURNING ${DOCUMENT_COLUMNS}, (xmax = 0) AS inserted`,
      )
      .catch(missingUser);
    const row = w.value.rows[0]!;
    return { ...w, value: { row, created: row.inserted } };
  }

  /**
   * Locks the document (or learns it is absent), runs `check` on its
   * version, then writes. A key created by another request between the look
   * and the insert is checked again, as it now is.
   */
  async #conditionalWrite(client: pg.PoolClient, params: string[], check: VersionCheck): Promise<{ row: DocumentRow; created: boolean }> {
    const [k, userId, key] = params;
    for (let round = 0; round < 3; round++) {
      const cur = await client.query<{ version: string }>('SELECT version FROM documents WHERE ksid = $1 AND user_id = $2 AND key = $3 FOR UPDATE', [k, userId, key]);
      const version = cur.rows[0]?.version;
      if (version !== undefined) {
        check(Number(version));
        const res = await client.query<DocumentRow>(
          `UPDATE documents SET value = $4::jsonb, version = version + 1, updated_at = now()
           WHERE ksid = $1 AND user_id = $2 AND key = $3 RETURNING ${DOCUMENT_COLUMNS}`,
          params,
        );
        return { row: res.rows[0] as DocumentRow, created: false };
      }
      // A write that would be a 404 without preconditions is a 404 with them.
      const user = await client.query('SELECT 1 FROM users WHERE ksid = $1 AND id = $2', [k, userId]);
      if (user.rowCount === 0) throw new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${userId}`);
      check(undefined);
      const res = await client.query<DocumentRow>(
        `INSERT INTO documents (ksid, user_id, key, value) VALUES ($1, $2, $3, $4::jsonb)
         ON CONFLICT (ksid, user_id, key) DO NOTHING RETURNING ${DOCUMENT_COLUMNS}`,
        params,
      );
      if (res.rows[0]) return { row: res.rows[0], created: true };
    }
    throw new TesseraError('TESSERA_ERR_CONFLICT', `document ${key} was changed by concurrent requests; retry`);
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

  /** Deletes one document; false if there was none. With `check`, the row is locked and checked first. */
  async delete(userId: string, key: string, check?: VersionCheck): Promise<Written<boolean>> {
    const ksid = this.router.userKsid(userId);
    const params = [ksidToSql(ksid), userId, key];
    const { shard, value, lsn } = await this.db.tx(ksid, async ({ client }) => {
      if (check) {
        const cur = await client.query<{ version: string }>('SELECT version FROM documents WHERE ksid = $1 AND user_id = $2 AND key = $3 FOR UPDATE', params);
        const version = cur.rows[0]?.version;
        if (version === undefined) return undefined;
        check(Number(version));
      }
      const res = await client.query<{ at: string }>(
        'DELETE FROM documents WHERE ksid = $1 AND user_id = $2 AND key = $3 RETURNING (extract(epoch FROM now()) * 1000000)::int8::text AS at',
        params,
      );
      return res.rows[0]?.at;
    });
    // A later incarnation of the key is created after `at`, so this floor refuses only older copies.
    if (value !== undefined) await this.cache.written(documentKey(userId, key), { e: Number(value), v: 0 });
    return { shard, value: value !== undefined, token: { shard, lsn } };
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
