import type pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import type { CachedRead, TieredCache } from '../cache/tiered.js';
import { GONE_EPOCH, notFound } from '../cache/entry.js';
import type { CacheEntry } from '../cache/entry.js';
import { TesseraError } from '../errors/catalog.js';
import type { ConsistencyToken } from '../db/lsn.js';
import type { RoutedDb, RoutedWrite } from '../db/routed.js';
import { ksidToSql } from '../routing/keyrange.js';
import type { Router } from '../routing/router.js';
import { normalizeEmail } from '../routing/strategies/hash.js';
import { colocatedId, NotColocatedError } from './colocated-create.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { EmailClaims } from './email-claims.js';
import type { User, UserRow } from './model.js';
import { toUser } from './model.js';
import type { UserChanges } from './users-sql.js';
import { deleteUser, insertUser, listUsers, lockUser, selectUser, updateUser } from './users-sql.js';

/** A result that names the shard that served it. */
export interface OnShard<T> {
  shard: string;
  value: T;
}

/** A committed write: its result and the consistency token of the write. */
export interface Written<T> extends OnShard<T> {
  token: ConsistencyToken;
}

/**
 * A request's preconditions (If-Match, If-None-Match) as a check on the
 * version of the row it acts on, run while the row is locked; undefined
 * means the row does not exist. It throws (a 412 problem) when they fail.
 */
export type VersionCheck = (version: number | undefined) => void;

/** A read through the caches: the entry (JSON text ready to send) and where it came from. */
export interface ReadThrough extends CachedRead {
  shard: string;
}

/** A page of a cross-shard listing. */
export interface UserPage {
  users: User[];
  nextCursor: string | null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Cache keys. User ids are never reused, so a user's entries need no incarnation. */
export const userKey = (id: string) => `u:${id}`;
export const emailKey = (norm: string) => `e:${norm}`;
/** Email → id mappings: a write raises the floor to 1 so a late "not found" cannot stick. */
const EMAIL_FLOOR = { e: 0, v: 1 };

const userEntry = (row: UserRow | undefined): CacheEntry =>
  row ? { kind: 'data', e: 0, v: Number(row.version), json: JSON.stringify(toUser(row)) } : notFound();

/**
 * The user domain: creates, reads, updates, deletes and lists users across
 * shards, keeping emails globally unique through {@link EmailClaims} and the
 * caches coherent through {@link TieredCache}.
 */
export class UserService {
  constructor(
    private readonly router: Router,
    private readonly db: RoutedDb,
    private readonly emails: EmailClaims,
    private readonly cache: TieredCache,
  ) {}

  /** The shard that owns a user id now. */
  shardOf(id: string): string {
    return this.db.ownerOf(this.router.userKsid(id));
  }

  /**
   * Creates a user with a new UUIDv7 id: in one transaction on the shard of
   * the email's lookup row when an id can be chosen to land there (see
   * `colocated-create.ts`), else claim first and user second.
   */
  async create(input: { email: string; name: string; profile?: Record<string, unknown> }): Promise<Written<User>> {
    const email = input.email.trim();
    const norm = normalizeEmail(email);
    const emailKsid = this.router.emailKsid(norm);
    const profile = input.profile ?? {};
    const picked = colocatedId(this.router, this.db, emailKsid);
    let written: RoutedWrite<UserRow> | undefined;
    if (picked) {
      const { id, ksid } = picked;
      const together = await this.db
        .commitOne<UserRow>(ksid, (shard, quote) => {
          if (this.db.ownerOf(emailKsid) !== shard) throw new NotColocatedError();
          return this.emails.claimTogetherSql(quote, emailKsid, norm, { ksid, id, email, name: input.name, profile });
        })
        .catch((err: unknown) => {
          if (err instanceof NotColocatedError) return undefined;
          throw err;
        });
      // No row: the email has a claim already (taken, stale or in progress): the two-step path decides.
      const row = together?.value.rows[0];
      if (together && row) written = { ...together, value: row };
    }
    if (!written) {
      const id = uuidv7();
      const ksid = this.router.userKsid(id);
      written = await this.emails.claim(email, id, () => this.db.tx(ksid, ({ client }) => insertUser(client, { ksid, id, email, name: input.name, profile })));
    }
    const user = toUser(written.value);
    // Clears a cached "not found" for the id and for the email.
    await Promise.all([this.cache.written(userKey(user.id), { e: 0, v: 1 }), this.cache.written(emailKey(norm), EMAIL_FLOOR)]);
    return { shard: written.shard, value: user, token: { shard: written.shard, lsn: written.lsn } };
  }

  /**
   * Reads a user through L1 → L2 → a fresh replica → the primary. With a
   * consistency token for the user's shard, only a source that has replayed
   * the token's write answers.
   */
  async get(id: string, token?: ConsistencyToken): Promise<ReadThrough> {
    const ksid = this.router.userKsid(id);
    const shard = this.db.ownerOf(ksid);
    const fresh = token !== undefined && token.shard === shard;
    const read = await this.cache.read(
      userKey(id),
      async (primary) => {
        if (primary) {
          const r = await this.db.onPrimary(ksid, ({ client }) => selectUser(client, ksid, id));
          return { entry: userEntry(r.value), source: 'primary', shard: r.shard };
        }
        const r = await this.db.read(ksid, (client) => selectUser(client, ksid, id), token);
        return { entry: userEntry(r.value), source: r.source, shard: r.shard };
      },
      fresh,
    );
    return { ...read, shard: read.shard ?? shard };
  }

  /** Reads a user from its primary, past both caches (which it then fills). */
  async #onPrimary(id: string): Promise<ReadThrough> {
    const ksid = this.router.userKsid(id);
    const read = await this.cache.read(
      userKey(id),
      async () => {
        const r = await this.db.onPrimary(ksid, ({ client }) => selectUser(client, ksid, id));
        return { entry: userEntry(r.value), source: 'primary', shard: r.shard };
      },
      true,
    );
    return { ...read, shard: read.shard ?? this.db.ownerOf(ksid) };
  }

  /**
   * Finds the user holding `email` (case-insensitively) through the lookup
   * table. With `onlyUserId` (a user token's own id) it answers only for that
   * user: that user is read by id and compared, so the look-up never touches
   * another user's claim and a miss says nothing about who holds the email.
   */
  async getByEmail(email: string, token?: ConsistencyToken, onlyUserId?: string): Promise<ReadThrough> {
    const norm = normalizeEmail(email);
    const ksid = this.router.emailKsid(norm);
    if (onlyUserId !== undefined) {
      const own = await this.get(onlyUserId, token);
      if (own.entry.kind === 'data' && normalizeEmail((JSON.parse(own.entry.json as string) as User).email) === norm) return own;
      return { entry: notFound(), tier: own.tier, ...(own.source && { source: own.source }), shard: this.db.ownerOf(ksid) };
    }
    const lookup = async (primary: boolean) => {
      const sql = (client: pg.ClientBase) =>
        client.query<{ user_id: string }>('SELECT user_id FROM email_lookup WHERE ksid = $1 AND email = $2', [ksidToSql(ksid), norm]);
      const r = primary ? { ...(await this.db.onPrimary(ksid, ({ client }) => sql(client))), source: 'primary' as const } : await this.db.read(ksid, sql, token);
      const userId = r.value.rows[0]?.user_id;
      const entry: CacheEntry = userId ? { kind: 'data', ...EMAIL_FLOOR, json: JSON.stringify(userId) } : notFound();
      return { entry, source: r.source, shard: r.shard };
    };
    // First through the caches; then, if the mapping led to a user who does not hold the email (a
    // mapping or user entry older than a recent write, on this replica or a lagging replica),
    // once more from the primaries, skipping the caches, which settles it.
    for (const primary of [false, true]) {
      const mapping = await this.cache.read(emailKey(norm), (p) => lookup(p || primary), primary || token !== undefined);
      if (mapping.entry.kind !== 'data') return { ...mapping, shard: mapping.shard ?? this.db.ownerOf(ksid) };
      const id = JSON.parse(mapping.entry.json as string) as string;
      const user = primary ? await this.#onPrimary(id) : await this.get(id, token);
      if (user.entry.kind === 'data' && normalizeEmail((JSON.parse(user.entry.json as string) as User).email) === norm) return user;
    }
    return { entry: notFound(), tier: 'miss', source: 'primary', shard: this.db.ownerOf(ksid) };
  }

  /**
   * Applies a partial update in one transaction that locks the row, so
   * concurrent updates serialise instead of failing. `check` (the request's
   * preconditions) runs on the locked row's version. A new email is claimed first
   * (a claim the user already holds is a no-op); the old one is released
   * after the commit.
   */
  async patch(id: string, changes: UserChanges, check?: VersionCheck): Promise<Written<User>> {
    const ksid = this.router.userKsid(id);
    const newEmail = changes.email?.trim();
    const write = () =>
      this.db.tx(ksid, async ({ client }) => {
        const current = await lockUser(client, ksid, id);
        if (!current) throw new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${id}`);
        check?.(current.version);
        const row = await updateUser(client, ksid, id, current.version, { ...changes, ...(newEmail !== undefined && { email: newEmail }) });
        // The row is locked: the version cannot have moved.
        return { row: row as UserRow, oldEmail: current.email };
      });
    // A failed write (404, 412) withdraws a fresh claim, so no stale claim is left behind.
    const written = newEmail !== undefined ? await this.emails.claim(newEmail, id, write) : await write();
    const user = toUser(written.value.row);
    const invalidations = [this.cache.written(userKey(id), { e: 0, v: user.version })];
    const oldNorm = normalizeEmail(written.value.oldEmail);
    if (newEmail !== undefined && normalizeEmail(newEmail) !== oldNorm) {
      await this.emails.release(written.value.oldEmail, id).catch(() => undefined); // stale at worst
      invalidations.push(this.cache.written(emailKey(oldNorm), EMAIL_FLOOR), this.cache.written(emailKey(normalizeEmail(newEmail)), EMAIL_FLOOR));
    }
    await Promise.all(invalidations);
    return { shard: written.shard, value: user, token: { shard: written.shard, lsn: written.lsn } };
  }

  /**
   * Deletes a user, its documents, then its email claim (reverse of create).
   * With `check`, the user's row is locked and checked first.
   */
  async delete(id: string, check?: VersionCheck): Promise<Written<boolean>> {
    const ksid = this.router.userKsid(id);
    const { shard, value, lsn } = await this.db.tx(ksid, async ({ client }) => {
      if (check) {
        const current = await lockUser(client, ksid, id);
        if (!current) return undefined;
        check(current.version);
      }
      // Deleted explicitly (not by cascade) to learn which document keys to invalidate.
      const docs = await client.query<{ key: string; at: string }>(
        `DELETE FROM documents WHERE ksid = $1 AND user_id = $2 RETURNING key, (extract(epoch FROM now()) * 1000000)::int8::text AS at`,
        [ksidToSql(ksid), id],
      );
      const user = await deleteUser(client, ksid, id);
      return user && { email: user.email, docs: docs.rows };
    });
    const token = { shard, lsn };
    if (!value) return { shard, value: false, token };
    await this.emails.release(value.email, id).catch(() => undefined); // a leftover claim is stale, reclaimable
    await Promise.all([
      this.cache.written(userKey(id), { e: GONE_EPOCH, v: 0 }, 'gone'),
      this.cache.written(emailKey(normalizeEmail(value.email)), EMAIL_FLOOR),
      ...value.docs.map((d) => this.cache.written(`d:${id}:${d.key}`, { e: Number(d.at), v: 0 })),
    ]);
    return { shard, value: true, token };
  }

  /**
   * Lists every user in id order: a k-way merge of at most `limit` rows from
   * each shard, each shard filtered to the ranges it owns in the map.
   */
  async list(limit: number, cursor?: string): Promise<UserPage> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor, (a) => UUID_RE.test(a));
    const perShard = await this.db.scatter((_shard, ranges, client) => listUsers(client, ranges, after, limit));
    const merged = perShard.flatMap((r) => r.value).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const page = merged.slice(0, limit);
    // More may follow if we cut the merge short or any shard filled its quota.
    const more = merged.length > limit || perShard.some((r) => r.value.length === limit);
    const last = page.at(-1);
    return { users: page.map(toUser), nextCursor: more && last ? encodeCursor(last.id) : null };
  }
}
