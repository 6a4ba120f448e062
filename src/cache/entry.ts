/**
 * What the caches hold for a key. Every entry carries a version `(e, v)`
 * compared lexicographically: `e` tells incarnations of a key apart (a
 * document deleted and created again starts a new one), `v` is the row's
 * version within it. A fill never replaces a newer version, so a reader that
 * fetched an old row from a lagging replica cannot put it back.
 *
 * Kinds: `data` (the row, as JSON text ready to send), `nf` (not found,
 * cached briefly), `floor` (a write happened at this version: anything older
 * is stale; the row itself must be read again), `gone` (deleted for good —
 * user ids are never reused, so this answers 404 without a database read).
 */
export type EntryKind = 'data' | 'nf' | 'floor' | 'gone';

export interface CacheEntry {
  kind: EntryKind;
  e: number;
  v: number;
  /** The row as JSON text, for `data`. */
  json?: string;
}

/** Larger than any incarnation, so a `gone` floor refuses every fill. */
export const GONE_EPOCH = 2 ** 52;

export const notFound = (): CacheEntry => ({ kind: 'nf', e: 0, v: 0 });

/** Orders versions: negative when a is older than b. */
export function compareVersions(a: { e: number; v: number }, b: { e: number; v: number }): number {
  return a.e !== b.e ? a.e - b.e : a.v - b.v;
}

const KIND_CODE: Record<EntryKind, string> = { data: 'd', nf: 'n', floor: 'f', gone: 'g' };
const CODE_KIND: Record<string, EntryKind> = { d: 'data', n: 'nf', f: 'floor', g: 'gone' };

/** `e:v:k|json` — the version first, so the Redis script can compare without parsing JSON. */
export function encodeEntry(entry: CacheEntry): string {
  return `${entry.e}:${entry.v}:${KIND_CODE[entry.kind]}|${entry.json ?? ''}`;
}

export function decodeEntry(text: string): CacheEntry | undefined {
  const bar = text.indexOf('|');
  const [e, v, k] = text.slice(0, bar).split(':');
  const kind = k === undefined ? undefined : CODE_KIND[k];
  if (bar < 0 || kind === undefined) return undefined;
  const entry: CacheEntry = { kind, e: Number(e), v: Number(v) };
  if (kind === 'data') entry.json = text.slice(bar + 1);
  return entry;
}

/** A TTL spread by ±`jitter` so that keys filled together do not expire together. */
export function jittered(ttlMs: number, jitter: number): number {
  return Math.max(1, Math.round(ttlMs * (1 - jitter + 2 * jitter * Math.random())));
}
