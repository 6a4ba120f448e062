/**
 * Signing keys of a stack: an Ed25519 key pair as a private JWK (for
 * `tessera token`, mode 0600) and a public JWKS (for the apps). Several keys
 * may sit in one JWKS under different `kid`s, which is how a rotation works:
 * add the new public key, sign with the new private key, drop the old key
 * when its tokens have expired.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile, mkdir, chmod, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

/** A private signing key with the header fields a token needs. */
export interface SigningKey {
  kid: string;
  alg: 'EdDSA' | 'ES256';
  key: CryptoKey | Uint8Array;
}

/** A JSON Web Key Set. */
export interface Jwks {
  keys: JWK[];
}

/** File names inside a key folder (`<stack>/auth/` locally, a secret in compose). */
export const SIGNING_KEY_FILE = 'signing-key.jwk';
export const JWKS_FILE = 'jwks.json';

/** A new Ed25519 key pair: the private JWK and the public JWK, sharing a fresh `kid`. */
export async function newKeyPair(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const kid = `k-${new Date().toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'EdDSA' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  return { privateJwk, publicJwk };
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode); // the umask may have narrowed or the file existed
  await rename(tmp, path);
}

/**
 * Writes a new key pair into `dir`: `signing-key.jwk` (0600) and
 * `jwks.json`. With `rotate`, the new public key joins the keys already in
 * `jwks.json` instead of replacing them, so tokens signed by the old key stay
 * valid until they expire or the old key is removed.
 */
export async function writeKeyPair(dir: string, opts: { rotate?: boolean } = {}): Promise<{ kid: string; keys: number }> {
  const { privateJwk, publicJwk } = await newKeyPair();
  const existing = opts.rotate ? await readJwks(join(dir, JWKS_FILE)).catch(() => ({ keys: [] })) : { keys: [] };
  const jwks: Jwks = { keys: [...existing.keys.filter((k) => k.kid !== publicJwk.kid), publicJwk] };
  await writeAtomic(join(dir, SIGNING_KEY_FILE), `${JSON.stringify(privateJwk)}\n`, 0o600);
  await writeAtomic(join(dir, JWKS_FILE), `${JSON.stringify(jwks, null, 2)}\n`, 0o644);
  return { kid: privateJwk.kid as string, keys: jwks.keys.length };
}

/** Reads and checks a JWKS file: an object with a non-empty `keys` array of public keys. */
export async function readJwks(path: string): Promise<Jwks> {
  return parseJwks(await readFile(path, 'utf8'), path);
}

/** Checks JWKS text; throws naming `source` when it is not a usable key set. */
export function parseJwks(text: string, source: string): Jwks {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${source} is not JSON`);
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${source} has no "keys"`);
  for (const k of keys as JWK[]) {
    if (typeof k !== 'object' || k === null || typeof k.kty !== 'string') throw new Error(`${source}: every key needs a "kty"`);
    // A private part in a file the apps read means the signing key leaked into it.
    if ('d' in k) throw new Error(`${source}: key ${k.kid ?? '(no kid)'} holds a private part; a JWKS must hold public keys only`);
  }
  return { keys: keys as JWK[] };
}

/** Loads the private signing key from a JWK file (Ed25519 or P-256, with a `kid`). */
export async function readSigningKey(path: string): Promise<SigningKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(await readFile(path, 'utf8')) as JWK;
  } catch (err) {
    throw new Error(`cannot read the signing key ${path}: ${(err as Error).message}`, { cause: err });
  }
  const alg = jwk.crv === 'Ed25519' ? 'EdDSA' : jwk.crv === 'P-256' ? 'ES256' : undefined;
  if (!alg || typeof jwk.d !== 'string') throw new Error(`${path} is not a private Ed25519 or P-256 JWK`);
  if (typeof jwk.kid !== 'string' || jwk.kid === '') throw new Error(`${path} has no "kid"; the apps pick the verifying key by it`);
  return { kid: jwk.kid, alg, key: await importJWK(jwk, alg) };
}
