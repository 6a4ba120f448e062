/**
 * Authentication in the Docker suite: the one switch, and the suite's token.
 * The stacks run with TESSERA_AUTH set to {@link DOCKER_AUTH} (on, as in
 * every stack by default), and every request of the suite carries a service
 * token with every scope, signed with the key scripts/docker-init.sh made for
 * the stack (as `docker compose run --rm cli token` would).
 */
import { join } from 'node:path';
import { readSigningKey } from '../../../src/auth/keys.js';
import { mintToken } from '../../../src/auth/mint.js';
import { SCOPES } from '../../../src/auth/scopes.js';

/** What the suite's stacks run with. */
export const DOCKER_AUTH: 'jwt' | 'off' = 'jwt';

let headers: Promise<Record<string, string>> | undefined;

async function mintHeaders(): Promise<Record<string, string>> {
  if (DOCKER_AUTH === 'off') return {};
  // Imported here, not above: the global setup reads DOCKER_AUTH, and it may not import vitest.
  const { composeContext } = await import('./compose.js');
  const key = await readSigningKey(join(composeContext().secretsDir, 'signing-key.jwk'));
  // Long enough for the whole suite; a client id of its own, so that its rate-limit budget is its own.
  const token = await mintToken(key, { scopes: [...SCOPES], clientId: `tessera-docker-tests-${process.pid}`, ttlSeconds: 4 * 3600 });
  return { authorization: `Bearer ${token}` };
}

/** Headers that authenticate a request of the suite (none when auth is off), minted once. */
export function authHeaders(): Promise<Record<string, string>> {
  headers ??= mintHeaders();
  return headers;
}
