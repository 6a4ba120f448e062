/** Minting bearer tokens with a stack's signing key (`tessera token`, tests, the benchmark, seeding). */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKey } from './keys.js';

/** What a token says. */
export interface TokenRequest {
  /** Scopes, e.g. `['users:read', 'users:write']`. */
  scopes: string[];
  /** A user id: makes a user token that reaches only that user. */
  sub?: string;
  /** A service token's client id (ignored for user tokens). @default `tessera-cli` */
  clientId?: string;
  /** Lifetime in seconds. @default 3600 */
  ttlSeconds?: number;
  /** @default `tessera` */
  issuer?: string;
  /** @default `tessera` */
  audience?: string;
  /** Issue time in seconds since the epoch (tests of expiry and nbf). @default now */
  issuedAt?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Signs a token: `sub` = the user id for user tokens, `client_id` + `sub` = the client for service tokens. */
export async function mintToken(key: SigningKey, req: TokenRequest): Promise<string> {
  const now = req.issuedAt ?? Math.floor(Date.now() / 1000);
  if (req.sub !== undefined && !UUID.test(req.sub)) throw new Error(`--sub must be a user id (a UUID), got "${req.sub}"`);
  const clientId = req.clientId ?? 'tessera-cli';
  const claims: Record<string, unknown> = { scope: req.scopes.join(' ') };
  if (req.sub === undefined) claims.client_id = clientId;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(req.issuer ?? 'tessera')
    .setAudience(req.audience ?? 'tessera')
    .setSubject(req.sub?.toLowerCase() ?? clientId)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (req.ttlSeconds ?? 3600))
    .setJti(randomUUID())
    .sign(key.key);
}

/** Parses `30s`, `15m`, `1h`, `7d` (or plain seconds) into seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`--ttl must look like 30s, 15m, 1h or 7d, got "${text}"`);
  const seconds = Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  if (seconds <= 0) throw new Error('--ttl must be positive');
  return seconds;
}
