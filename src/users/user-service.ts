import { v7 as uuidv7 } from 'uuid';
import { TesseraError } from '../errors/catalog.js';
import type { RoutedDb } from '../db/routed.js';
import type { Router } from '../routing/router.js';
import { normalizeEmail } from '../routing/strategies/hash.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { EmailClaims } from './email-claims.js';
import type { User, UserRow } from './model.js';
import { toUser } from './model.js';
import type { UserChanges } from './users-sql.js';
import { deleteUser, insertUser, listUsers, selectUser, updateUser } from './users-sql.js';

/** A result that names the shard that served it. */
export interface OnShard<T> {
  shard: string;
  value: T;
}

/** A page of a cross-shard listing. */
export interface UserPage {
  users: User[];
  nextCursor: string | null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The user domain: creates, reads, updates, deletes and lists users across
 * shards, keeping emails globally unique through {@link EmailClaims}.
 */
export class UserService {
  constructor(
    private readonly router: Router,
    private readonly db: RoutedDb,
    private readonly emails: EmailClaims,
  ) {}

  /** The shard that owns a user id now. */
  shardOf(id: string): string {
    return this.db.ownerOf(this.router.userKsid(id));
  }

  /** Creates a user with a new UUIDv7 id. */
  async create(input: { email: string; name: string; profile?: Record<string, unknown> }): Promise<OnShard<User>> {
    const id = uuidv7();
    const ksid = this.router.userKsid(id);
    const email = input.email.trim();
    return this.emails.claim(email, id, async () => {
      const { shard, value } = await this.db.tx(ksid, ({ client }) =>
        insertUser(client, { ksid, id, email, name: input.name, profile: input.profile ?? {} }),
      );
      return { shard, value: toUser(value) };
    });
  }

  /** Reads a user from its shard's primary. */
  async get(id: string): Promise<OnShard<User | undefined>> {
    const ksid = this.router.userKsid(id);
    const { shard, value } = await this.db.onPrimary(ksid, ({ client }) => selectUser(client, ksid, id));
    return { shard, value: value && toUser(value) };
  }

  /** Finds the user holding `email` (case-insensitively) through the lookup table. */
  async getByEmail(email: string): Promise<OnShard<User | undefined>> {
    const norm = normalizeEmail(email);
    const userId = await this.emails.lookup(norm);
    if (!userId) return { shard: this.db.ownerOf(this.router.emailKsid(norm)), value: undefined };
    const found = await this.get(userId);
    // A stale claim (user gone or moved to another email) is not a match.
    if (found.value && normalizeEmail(found.value.email) !== norm) return { shard: found.shard, value: undefined };
    return found;
  }

  /**
   * Applies a partial update. `ifMatch` (a version) makes it conditional: a
   * mismatch is 412. Without it, the update still never overwrites a change it
   * did not see: it re-reads and re-applies on a concurrent change.
   */
  async patch(id: string, changes: UserChanges, ifMatch?: number): Promise<OnShard<User>> {
    const ksid = this.router.userKsid(id);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.get(id);
      if (!current.value) throw new TesseraError('TESSERA_ERR_USER_NOT_FOUND', `no user ${id}`);
      const base = current.value;
      if (ifMatch !== undefined && base.version !== ifMatch) {
        throw new TesseraError('TESSERA_ERR_PRECONDITION_FAILED', `user ${id} is at version ${base.version}, not ${ifMatch}`, {
          extra: { currentVersion: base.version },
        });
      }
      const write = () => this.db.tx(ksid, ({ client }) => updateUser(client, ksid, id, base.version, changes));
      const newEmail = changes.email?.trim();
      const emailMoves = newEmail !== undefined && normalizeEmail(newEmail) !== normalizeEmail(base.email);
      const updated: { shard: string; value: UserRow | undefined } = emailMoves
        ? await this.emails.claim(newEmail, id, write)
        : await write();
      if (updated.value) {
        if (emailMoves) await this.emails.release(base.email, id).catch(() => undefined); // stale at worst
        return { shard: updated.shard, value: toUser(updated.value) };
      }
      // Changed (or deleted) between read and write: decide again on fresh data.
    }
    throw new TesseraError('TESSERA_ERR_CONFLICT', `user ${id} keeps changing; retry`, { retryAfter: 0 });
  }

  /** Deletes a user, its documents, then its email claim (reverse of create). */
  async delete(id: string): Promise<OnShard<boolean>> {
    const ksid = this.router.userKsid(id);
    const { shard, value } = await this.db.tx(ksid, ({ client }) => deleteUser(client, ksid, id));
    if (!value) return { shard, value: false };
    await this.emails.release(value.email, id).catch(() => undefined); // a leftover claim is stale, reclaimable
    return { shard, value: true };
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
