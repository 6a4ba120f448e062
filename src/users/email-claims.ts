import type pg from 'pg';
import { TesseraError } from '../errors/catalog.js';
import type { RoutedDb } from '../db/routed.js';
import { ksidToSql } from '../routing/keyrange.js';
import type { Router } from '../routing/router.js';
import { normalizeEmail } from '../routing/strategies/hash.js';
import { claimAndUserSql, selectUser, type NewUser } from './users-sql.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Global email uniqueness across shards, as a consistent lookup table
 * (`email_lookup`, sharded by the email's own ksid).
 *
 * The invariant: a user holds an email only while the lookup row points at
 * it. Every claim runs under a session advisory lock on the email's lookup
 * shard, held from the claim until the user row is written; a claim row whose
 * user is absent or holds another email is stale and may be taken over, but
 * only under that lock, so an in-flight create can never be overtaken. If the
 * app dies mid-way the connection drops, the lock goes with it, and what is
 * left is at worst a stale claim. Waiters poll with try-lock instead of
 * blocking, and lock sessions come from a pool of their own: a holder waiting
 * for a connection to write the user can never be starved by other holders.
 */
export class EmailClaims {
  constructor(
    private readonly router: Router,
    private readonly db: RoutedDb,
    private readonly opts: { lockWaitMs: number } = { lockWaitMs: 5000 },
  ) {}

  /** The user id the lookup row names for `email`, if any (no staleness check). */
  async lookup(email: string): Promise<string | undefined> {
    const norm = normalizeEmail(email);
    const ksid = this.router.emailKsid(norm);
    const { value } = await this.db.onPrimary(ksid, ({ client }) =>
      client.query<{ user_id: string }>('SELECT user_id FROM email_lookup WHERE ksid = $1 AND email = $2', [ksidToSql(ksid), norm]),
    );
    return value.rows[0]?.user_id;
  }

  /** Whether `userId` exists and holds `norm` (i.e. a claim for it is live). */
  async #holds(userId: string, norm: string): Promise<boolean> {
    const ksid = this.router.userKsid(userId);
    const { value: row } = await this.db.onPrimary(ksid, ({ client }) => selectUser(client, ksid, userId));
    return row !== undefined && normalizeEmail(row.email) === norm;
  }

  /**
   * Claims `email` for `userId`, runs `write` (which writes the user row) while
   * the claim is locked, and returns its result. Throws EMAIL_TAKEN when a live
   * user holds the email. If `write` fails, the fresh claim is withdrawn.
   */
  async claim<T>(email: string, userId: string, write: () => Promise<T>): Promise<T> {
    const norm = normalizeEmail(email);
    const ksid = this.router.emailKsid(norm);
    const key = ksidToSql(ksid);

    // Fast path without the lock: most conflicts are with a live owner.
    const owner = await this.lookup(norm);
    if (owner && owner !== userId && (await this.#holds(owner, norm))) throw emailTaken(email, this.db.ownerOf(ksid));

    const deadline = Date.now() + this.opts.lockWaitMs;
    for (;;) {
      const outcome = await this.db.onLockSession(ksid, async ({ client }) => {
        const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
        if (!got.rows[0]?.ok) return { locked: false as const };
        try {
          return { locked: true as const, result: await this.#claimLocked(client, ksid, norm, email, userId, write) };
        } finally {
          // A session that died (its primary stopped, e.g. in a failover) took its lock with it; the
          // pool discards the broken client. Failing here would report a create that did commit as failed.
          await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
        }
      });
      if (outcome.value.locked) return outcome.value.result;
      if (Date.now() > deadline) {
        throw new TesseraError('TESSERA_ERR_CONFLICT', 'the email is being claimed by a concurrent request; retry', { retryAfter: 1 });
      }
      await sleep(2 + Math.random() * 10);
    }
  }

  async #claimLocked<T>(client: pg.PoolClient, ksid: bigint, norm: string, email: string, userId: string, write: () => Promise<T>): Promise<T> {
    const key = ksidToSql(ksid);
    // The common case, a free email, in one round trip.
    const inserted = await client.query('INSERT INTO email_lookup (ksid, email, user_id) VALUES ($1, $2, $3) ON CONFLICT (ksid, email) DO NOTHING', [key, norm, userId]);
    let fresh = inserted.rowCount === 1;
    const holder = fresh
      ? userId
      : (await client.query<{ user_id: string }>('SELECT user_id FROM email_lookup WHERE ksid = $1 AND email = $2', [key, norm])).rows[0]?.user_id;
    if (holder === undefined) {
      // Released (deleted without the lock) between the two statements: free again.
      await client.query('INSERT INTO email_lookup (ksid, email, user_id) VALUES ($1, $2, $3)', [key, norm, userId]);
      fresh = true;
    } else if (holder !== userId) {
      if (await this.#holds(holder, norm)) throw emailTaken(email, this.db.ownerOf(ksid));
      // Stale claim: its user is gone or moved to another email.
      await client.query('UPDATE email_lookup SET user_id = $3, claimed_at = now() WHERE ksid = $1 AND email = $2', [key, norm, userId]);
      fresh = true;
    }
    try {
      return await write();
    } catch (err) {
      if (fresh) {
        await client
          .query('DELETE FROM email_lookup WHERE ksid = $1 AND email = $2 AND user_id = $3', [key, norm, userId])
          .catch(() => undefined); // left behind it is merely stale
      }
      throw err;
    }
  }

  /**
   * The statement that claims `norm` and writes the new user in one
   * transaction (run with `RoutedDb.commitOne`: statement and commit in one
   * round trip), on the
   * shard that owns both the email's lookup row and the user's keyspace id
   * (the creator chose the id so that they meet; see `colocated-create.ts`).
   * One commit makes both durable or neither, so no claim is ever left
   * behind, and a claim in progress is protected by the unique index itself
   * (a concurrent insert waits for this transaction). Undefined when the
   * email already has a claim: the caller then takes the two-step path,
   * which resolves conflicts (a live owner, a stale claim, a claim in
   * progress) under the claim's lock, on sessions of its own — resolving them
   * here would hold this transaction's connection while waiting for others.
   */
  claimTogetherSql(quote: (text: string) => string, emailKsid: bigint, norm: string, user: NewUser): string {
    return claimAndUserSql(quote, ksidToSql(emailKsid), norm, user);
  }

  /** Drops the claim of `email` if it still names `userId` (after a delete or an email change). */
  async release(email: string, userId: string): Promise<void> {
    const norm = normalizeEmail(email);
    const ksid = this.router.emailKsid(norm);
    await this.db.onPrimary(ksid, ({ client }) =>
      client.query('DELETE FROM email_lookup WHERE ksid = $1 AND email = $2 AND user_id = $3', [ksidToSql(ksid), norm, userId]),
    );
  }
}

/** 409; the header names the shard holding the email's claim. */
function emailTaken(email: string, lookupShard: string): TesseraError {
  return new TesseraError('TESSERA_ERR_EMAIL_TAKEN', `email ${email} is already in use`, { extra: { field: 'email' }, shard: lookupShard });
}
