/** PostgreSQL WAL positions (`16/B374D848`) as comparable bigints. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new RangeError(`not an LSN: ${lsn}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats a bigint LSN the way PostgreSQL prints it. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** A read-your-writes token: the shard written and its WAL position after the commit. */
export interface ConsistencyToken {
  shard: string;
  lsn: bigint;
}

/** `shard-a@0/16B3748` */
export function formatToken(t: ConsistencyToken): string {
  return `${t.shard}@${formatLsn(t.lsn)}`;
}

/** Parses a token header; undefined when malformed (the API validates the pattern first). */
export function parseToken(text: string | undefined): ConsistencyToken | undefined {
  if (!text) return undefined;
  const at = text.lastIndexOf('@');
  if (at <= 0) return undefined;
  try {
    return { shard: text.slice(0, at), lsn: parseLsn(text.slice(at + 1)) };
  } catch {
    return undefined;
  }
}

/** The header pattern of a token, for request schemas. */
export const TOKEN_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}@[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$';
