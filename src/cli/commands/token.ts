import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { readSigningKey, SIGNING_KEY_FILE } from '../../auth/keys.js';
import { mintToken, parseTtl } from '../../auth/mint.js';
import { parseScopes, SCOPES } from '../../auth/scopes.js';
import { tryReadStack } from '../../cluster/stack-file.js';

interface TokenFlags {
  scope: string;
  sub?: string;
  client: string;
  ttl: string;
  key?: string;
  dir: string;
  issuer?: string;
  audience?: string;
}

/**
 * Where the signing key is: `--key`, else TESSERA_AUTH_SIGNING_KEY_FILE, else
 * the local stack's (`<dir>/auth/signing-key.jwk`).
 */
function keyPath(flags: TokenFlags): string {
  const chosen = flags.key ?? (process.env.TESSERA_AUTH_SIGNING_KEY_FILE || undefined);
  if (chosen) return chosen;
  const stack = tryReadStack(flags.dir);
  if (stack?.auth?.mode === 'off') throw new Error(`the stack in ${resolve(flags.dir)} runs without authentication (--no-auth); it needs no token`);
  const path = stack?.auth?.signingKeyFile ?? join(resolve(flags.dir), 'auth', SIGNING_KEY_FILE);
  if (!existsSync(path)) throw new Error(`no signing key at ${path}: run \`npm run up\` (it makes one), or pass --key <file>`);
  return path;
}

/** `tessera token`: mints a bearer token with the stack's own signing key. */
export function register(program: Command): void {
  program
    .command('token')
    .description(
      'print a bearer token (JWT) signed with the stack\'s key: a service token with scopes, or with --sub a user token that reaches only that user',
    )
    .option('--scope <scopes>', `comma-separated scopes: ${SCOPES.join(', ')}`, 'users:read,users:write')
    .option('--sub <user-id>', 'make a user token for this user id (it reaches only that user)')
    .option('--client <id>', 'the client id of a service token (its rate-limit identity)', 'tessera-cli')
    .option('--ttl <duration>', 'lifetime: 30s, 15m, 1h, 7d', '1h')
    .option('--key <file>', 'private signing key (JWK); default: $TESSERA_AUTH_SIGNING_KEY_FILE, else <dir>/auth/signing-key.jwk')
    .option('--dir <dir>', 'stack folder', '.tessera')
    .option('--issuer <iss>', 'the iss claim (default: the stack\'s, tessera)')
    .option('--audience <aud>', 'the aud claim (default: the stack\'s, tessera)')
    .action(async (flags: TokenFlags) => {
      const scopes = [...parseScopes(flags.scope)];
      const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (unknown.length > 0) throw new Error(`unknown scope ${unknown.join(', ')}; known: ${SCOPES.join(', ')}`);
      const stack = tryReadStack(flags.dir);
      const key = await readSigningKey(keyPath(flags));
      const token = await mintToken(key, {
        scopes,
        ...(flags.sub !== undefined && { sub: flags.sub }),
        clientId: flags.client,
        ttlSeconds: parseTtl(flags.ttl),
        issuer: flags.issuer ?? process.env.TESSERA_AUTH_ISSUER ?? stack?.auth?.issuer ?? 'tessera',
        audience: flags.audience ?? process.env.TESSERA_AUTH_AUDIENCE ?? stack?.auth?.audience ?? 'tessera',
      });
      console.log(token);
    });
}
