/**
 * The bearer token a client tool (seed, the benchmark, load runs) sends: one
 * given explicitly (`--token`, `TESSERA_TOKEN`), else one minted with the
 * local stack's own signing key, or with TESSERA_AUTH_SIGNING_KEY_FILE's (the
 * compose stack's `cli` service has its key there); none for a stack without
 * authentication.
 */
import { existsSync } from 'node:fs';
import { tryReadStack } from '../cluster/stack-file.js';
import { readSigningKey } from './keys.js';
import { mintToken } from './mint.js';

/** What {@link clientToken} needs. */
export interface ClientTokenOptions {
  /** `--token`. */
  flag?: string;
  /** Stack folder whose key signs a token when none is given. */
  dir: string;
  scopes: string[];
  /** The client id (rate-limit identity) of a minted token. */
  clientId: string;
  /** @default 3600 */
  ttlSeconds?: number;
}

/** The token to send, or undefined when the stack runs without authentication. Throws with what to do when there is none. */
export async function clientToken(opts: ClientTokenOptions, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const given = opts.flag ?? (env.TESSERA_TOKEN || undefined);
  if (given !== undefined) return given;
  const stack = tryReadStack(opts.dir);
  if (stack?.auth?.mode === 'off') return undefined;
  const keyFile = stack?.auth?.signingKeyFile ?? (env.TESSERA_AUTH_SIGNING_KEY_FILE || undefined);
  if (!keyFile || !existsSync(keyFile)) {
    throw new Error(`no token: pass --token (or set TESSERA_TOKEN) with one from \`tessera token\`, set TESSERA_AUTH_SIGNING_KEY_FILE, or run against a local stack in ${opts.dir} whose key can sign one`);
  }
  return mintToken(await readSigningKey(keyFile), {
    scopes: opts.scopes,
    clientId: opts.clientId,
    ttlSeconds: opts.ttlSeconds ?? 3600,
    issuer: stack?.auth?.issuer ?? (env.TESSERA_AUTH_ISSUER || 'tessera'),
    audience: stack?.auth?.audience ?? (env.TESSERA_AUTH_AUDIENCE || 'tessera'),
  });
}
