/**
 * Tokens for tests, signed with the test stack's own key (as `tessera token`
 * does): a service token with every scope by default, user tokens on demand.
 */
import { readSigningKey, type SigningKey } from '../../src/auth/keys.js';
import { mintToken, type TokenRequest } from '../../src/auth/mint.js';
import { SCOPES } from '../../src/auth/scopes.js';
import { readStack } from '../../src/cluster/stack-file.js';
import { testStack } from './stack.js';

const keys = new Map<string, Promise<SigningKey>>();
const tokens = new Map<string, Promise<string>>();

/** The signing key of the stack in `dir` (the shared test stack by default). */
export function stackKey(dir?: string): Promise<SigningKey> {
  const stack = dir === undefined ? testStack() : readStack(dir);
  const file = stack.auth?.signingKeyFile;
  if (!file || stack.auth?.mode !== 'jwt') throw new Error(`the stack in ${stack.dir} has no authentication`);
  let key = keys.get(file);
  if (!key) {
    key = readSigningKey(file);
    keys.set(file, key);
  }
  return key;
}

/** A token for the stack in `dir` (default: the shared test stack): `scopes` default to all. */
export async function token(req: Partial<TokenRequest> = {}, dir?: string): Promise<string> {
  return mintToken(await stackKey(dir), { scopes: [...SCOPES], clientId: 'tessera-tests', ttlSeconds: 3600, ...req });
}

/** `Authorization` for a service token with every scope, minted once per stack. */
export async function serviceAuthHeaders(dir?: string): Promise<Record<string, string>> {
  const cacheKey = dir ?? 'shared';
  let t = tokens.get(cacheKey);
  if (!t) {
    t = token({}, dir);
    tokens.set(cacheKey, t);
  }
  return { authorization: `Bearer ${await t}` };
}

/** `Authorization` for a user token of `userId` (scopes default to read and write). */
export async function userAuthHeaders(userId: string, scopes: string[] = ['users:read', 'users:write'], dir?: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await token({ sub: userId, scopes }, dir)}` };
}
