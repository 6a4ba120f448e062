/** A user as the API returns it. */
export interface User {
  id: string;
  email: string;
  name: string;
  profile: Record<string, unknown>;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** A document as the API returns it. */
export interface Document {
  key: string;
  value: unknown;
  version: number;
  updatedAt: string;
}

/** A `users` row as pg returns it (bigints as strings). */
export interface UserRow {
  id: string;
  email: string;
  name: string;
  profile: Record<string, unknown>;
  version: string;
  created_at: Date;
  updated_at: Date;
}

/** A `documents` row as pg returns it. */
export interface DocumentRow {
  key: string;
  value: unknown;
  version: string;
  created_at: Date;
  updated_at: Date;
  /** created_at in microseconds: tells incarnations of a key apart in the caches. */
  created_us: string;
}

export const USER_COLUMNS = 'id, email, name, profile, version, created_at, updated_at';
export const DOCUMENT_COLUMNS = 'key, value, version, created_at, updated_at, (extract(epoch FROM created_at) * 1000000)::int8::text AS created_us';

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    profile: row.profile,
    version: Number(row.version),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toDocument(row: DocumentRow): Document {
  return { key: row.key, value: row.value, version: Number(row.version), updatedAt: row.updated_at.toISOString() };
}
