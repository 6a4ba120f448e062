/**
 * The local stack's authentication: where its keys live, making them at
 * `up`, and what the apps need to know. The private key never leaves the
 * stack folder (mode 0600; `.tessera*` is git-ignored).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { JWKS_FILE, SIGNING_KEY_FILE, writeKeyPair } from '../auth/keys.js';
import type { StackAuth, StackInfo } from './stack-file.js';

/** The auth settings of a stack in `dir`. */
export function planAuth(dir: string, mode: StackAuth['mode']): StackAuth {
  const keys = join(dir, 'auth');
  return { mode, dir: keys, jwksFile: join(keys, JWKS_FILE), signingKeyFile: join(keys, SIGNING_KEY_FILE), issuer: 'tessera', audience: 'tessera' };
}

/** The stack's auth, filling it in (auth on) for a stack file from before authentication existed. */
export function stackAuth(info: StackInfo): StackAuth {
  info.auth ??= planAuth(info.dir, 'jwt');
  return info.auth;
}

/** Makes the signing key pair if the stack has auth on and no keys yet. Returns whether it made them. */
export async function ensureStackKeys(auth: StackAuth): Promise<boolean> {
  if (auth.mode === 'off' || (existsSync(auth.signingKeyFile) && existsSync(auth.jwksFile))) return false;
  await writeKeyPair(auth.dir);
  return true;
}

/** The apps' environment for the stack's auth. */
export function authEnv(auth: StackAuth | undefined): Record<string, string> {
  if (!auth || auth.mode === 'off') return { TESSERA_AUTH: 'off' };
  return { TESSERA_AUTH: 'jwt', TESSERA_AUTH_JWKS_FILE: auth.jwksFile, TESSERA_AUTH_ISSUER: auth.issuer, TESSERA_AUTH_AUDIENCE: auth.audience };
}

/** The warning every start of a stack without authentication prints. */
export const NO_AUTH_WARNING =
  'WARNING: authentication is OFF (--no-auth): anyone who can reach this stack can read and change every user. For local experiments only; `npm run down -- --purge` and `npm run up` to turn it back on.';
