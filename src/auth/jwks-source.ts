/**
 * Where the apps get the public keys that verify tokens: a JWKS file (the
 * local stack's, or a mounted Docker secret) that is re-read when it changes,
 * or a JWKS URL (an identity provider's), fetched by jose with caching. Either
 * way a key rotation takes effect without a restart.
 */
import { readFileSync, statSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { parseJwks } from './keys.js';

/** A key resolver for jose plus what the verifier needs to know about changes. */
export interface JwksSource {
  /** Picks the verifying key for a token's header (by `kid` and `alg`). */
  getKey: JWTVerifyGetKey;
  /** Called after the key set changed (a rotation or a revocation): cached verdicts must go. */
  onChange(listener: () => void): void;
  /** How long a verified token may be trusted from cache before it is checked against the keys again. */
  readonly verdictTtlMs: number;
  close(): void;
}

/** Options of {@link fileJwks}. */
export interface FileJwksOptions {
  /** How often the file's metadata is polled. @default 1000 */
  pollMs?: number;
  /** Reports a reload that failed (the previous keys stay in force). */
  onError?: (err: Error) => void;
}

/**
 * A JWKS file, polled for changes (mtime, size or inode, so that an atomic
 * rename counts). A file that turns unreadable or invalid keeps the last good
 * keys in force and reports the error, rather than locking every caller out.
 */
export function fileJwks(path: string, opts: FileJwksOptions = {}): JwksSource {
  let current = createLocalJWKSet(parseJwks(readFileSync(path, 'utf8'), path));
  const listeners: (() => void)[] = [];
  const changed = (now: Stats, before: Stats) => now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino;
  const reload = () => {
    try {
      current = createLocalJWKSet(parseJwks(readFileSync(path, 'utf8'), path));
      for (const l of listeners) l();
    } catch (err) {
      opts.onError?.(err as Error);
    }
  };
  // watchFile polls stat(): unlike fs.watch it survives the file being replaced by a rename.
  watchFile(path, { interval: opts.pollMs ?? 1000, persistent: false }, (now, before) => {
    if (now.nlink > 0 && changed(now, before)) reload();
  });
  statSync(path); // fail at start, not later, when the path is wrong
  return {
    getKey: (header, token) => current(header, token),
    onChange: (l) => listeners.push(l),
    verdictTtlMs: 60_000,
    close: () => unwatchFile(path),
  };
}

/**
 * A JWKS URL. jose caches the set, re-fetches it when a token names an
 * unknown `kid` (a new key) at most once per cooldown, and refreshes it when
 * older than `cacheMaxAge`; verdicts are trusted for as long, so a revoked
 * key stops working within a minute.
 */
export function urlJwks(url: string): JwksSource {
  const maxAgeMs = 60_000;
  return {
    getKey: createRemoteJWKSet(new URL(url), { cacheMaxAge: maxAgeMs, cooldownDuration: 5000, timeoutDuration: 2000 }),
    onChange: () => undefined,
    verdictTtlMs: maxAgeMs,
    close: () => undefined,
  };
}
