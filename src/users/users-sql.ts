import type pg from 'pg';
import type { KeyRange } from '../routing/keyrange.js';
import { hiToSql, ksidToSql } from '../routing/keyrange.js';
import type { UserRow } from './model.js';
import { USER_COLUMNS } from './model.js';

/** SQL on the `users` table of one shard. Callers pick the shard and client. */

/** A user about to be written. */
export interface NewUser {
  ksid: bigint;
  id: string;
  email: string;
  name: string;
  profile: Record<string, unknown>;
}

export async function insertUser(c: pg.ClientBase, u: NewUser): Promise<UserRow> {
  const res = await c.query<UserRow>(
    `INSERT INTO users (ksid, id, email, name, profile) VALUES ($1, $2, $3, $4, $5) RETURNING ${USER_COLUMNS}`,
    [ksidToSql(u.ksid), u.id, u.email, u.name, JSON.stringify(u.profile)],
  );
  return res.rows[0] as UserRow;
}

/**
 * The statement that inserts an email's claim and its user, on a shard that
 * owns both rows: the user is written only if the claim was. It returns no
 * row when the email already has a claim (the caller resolves it). Written
 * with literals (`quote` is the driver's escapeLiteral) for
 * `ShardPools.commitOne`, which runs it and its commit in one round trip.
 */
export function claimAndUserSql(quote: (text: string) => string, claimKsid: string, norm: string, u: NewUser): string {
  return `WITH claim AS (
       INSERT INTO email_lookup (ksid, email, user_id) VALUES (${quote(claimKsid)}::bigint, ${quote(norm)}, ${quote(u.id)}::uuid)
       ON CONFLICT (ksid, email) DO NOTHING RETURNING user_id
     )
     INSERT INTO users (ksid, id, email, name, profile)
     SELECT ${quote(ksidToSql(u.ksid))}::bigint, claim.user_id, ${quote(u.email)}, ${quote(u.name)}, ${quote(JSON.stringify(u.profile))}::jsonb FROM claim
     RETURNING ${USER_COLUMNS}`;
}

export async function selectUser(c: pg.ClientBase, ksid: bigint, id: string): Promise<UserRow | undefined> {
  const res = await c.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE ksid = $1 AND id = $2`, [ksidToSql(ksid), id]);
  return res.rows[0];
}

/** The fields a PATCH may change; undefined leaves a field as it is. */
export interface UserChanges {
  email?: string;
  name?: string;
  profile?: Record<string, unknown>;
}

/** Locks a user's row for the rest of the transaction and returns its email and version. */
export async function lockUser(c: pg.ClientBase, ksid: bigint, id: string): Promise<{ email: string; version: number } | undefined> {
  const res = await c.query<{ email: string; version: string }>('SELECT email, version FROM users WHERE ksid = $1 AND id = $2 FOR UPDATE', [ksidToSql(ksid), id]);
  const row = res.rows[0];
  return row && { email: row.email, version: Number(row.version) };
}

/** Updates a user if its version is still `expectedVersion`; undefined when it is not (or is gone). */
export async function updateUser(
  c: pg.ClientBase,
  ksid: bigint,
  id: string,
  expectedVersion: number,
  ch: UserChanges,
): Promise<UserRow | undefined> {
  const res = await c.query<UserRow>(
    `UPDATE users SET
       email = COALESCE($4, email),
       name = COALESCE($5, name),
       profile = COALESCE($6::jsonb, profile),
       version = version + 1,
       updated_at = now()
     WHERE ksid = $1 AND id = $2 AND version = $3
     RETURNING ${USER_COLUMNS}`,
    [ksidToSql(ksid), id, expectedVersion, ch.email ?? null, ch.name ?? null, ch.profile === undefined ? null : JSON.stringify(ch.profile)],
  );
  return res.rows[0];
}

export async function deleteUser(c: pg.ClientBase, ksid: bigint, id: string): Promise<{ email: string } | undefined> {
  const res = await c.query<{ email: string }>('DELETE FROM users WHERE ksid = $1 AND id = $2 RETURNING email', [ksidToSql(ksid), id]);
  return res.rows[0];
}

/** A SQL predicate restricting `ksid` to `ranges`, with its parameters numbered from `firstParam`. */
export function rangePredicate(ranges: KeyRange[], firstParam: number): { sql: string; params: (string | null)[] } {
  if (ranges.length === 0) return { sql: 'false', params: [] };
  const parts: string[] = [];
  const params: (string | null)[] = [];
  for (const r of ranges) {
    const lo = firstParam + params.length;
    params.push(ksidToSql(r.lo));
    const hi = hiToSql(r.hi);
    if (hi === null) parts.push(`ksid >= $${lo}`);
    else {
      params.push(hi);
      parts.push(`(ksid >= $${lo} AND ksid < $${lo + 1})`);
    }
  }
  return { sql: `(${parts.join(' OR ')})`, params };
}

/** Users of `ranges` after `afterId` in id order, at most `limit`. */
export async function listUsers(c: pg.ClientBase, ranges: KeyRange[], afterId: string | undefined, limit: number): Promise<UserRow[]> {
  const pred = rangePredicate(ranges, 3);
  const res = await c.query<UserRow>(
    `SELECT ${USER_COLUMNS} FROM users WHERE id > $1 AND ${pred.sql} ORDER BY id LIMIT $2`,
    [afterId ?? '00000000-0000-0000-0000-000000000000', limit, ...pred.params],
  );
  // The all-zero UUID is never issued (v7 ids carry a version), so `> zero` misses nothing.
  return res.rows;
}
