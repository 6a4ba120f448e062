import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJwks, readJwks, readSigningKey, writeKeyPair } from '../../src/auth/keys.js';
import { fileJwks } from '../../src/auth/jwks-source.js';
import { mintToken, parseTtl } from '../../src/auth/mint.js';
import { parseScopes } from '../../src/auth/scopes.js';
import { InvalidTokenError, TokenVerifier, callerOf } from '../../src/auth/verifier.js';

async function keyDir() {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-keys-'));
  await writeKeyPair(dir);
  return dir;
}

describe('signing keys', () => {
  it('a new key pair is a 0600 private JWK and a public JWKS sharing one kid', async () => {
    const dir = await keyDir();
    expect((await stat(join(dir, 'signing-key.jwk'))).mode & 0o777).toBe(0o600);
    const priv = JSON.parse(await readFile(join(dir, 'signing-key.jwk'), 'utf8'));
    const jwks = await readJwks(join(dir, 'jwks.json'));
    expect(priv).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: priv.kid, alg: 'EdDSA', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('rotating keeps the old public keys beside the new one', async () => {
    const dir = await keyDir();
    const first = (await readJwks(join(dir, 'jwks.json'))).keys[0]!.kid;
    const { kid, keys } = await writeKeyPair(dir, { rotate: true });
    expect(keys).toBe(2);
    expect((await readJwks(join(dir, 'jwks.json'))).keys.map((k) => k.kid)).toEqual([first, kid]);
  });

  it('a JWKS holding a private key, no keys, or no JSON is refused', () => {
    expect(() => parseJwks('{"keys":[{"kty":"OKP","crv":"Ed25519","x":"a","d":"b"}]}', 'f')).toThrow(/private part/);
    expect(() => parseJwks('{"keys":[]}', 'f')).toThrow(/no "keys"/);
    expect(() => parseJwks('nope', 'f')).toThrow(/not JSON/);
  });
});

describe('token claims', () => {
  it('tells service tokens (client_id) from user tokens (sub = a user id), and refuses neither', () => {
    expect(callerOf({ client_id: 'billing', sub: 'billing', scope: 'users:read users:list' })).toEqual({
      kind: 'service', id: 'client:billing', scopes: new Set(['users:read', 'users:list']),
    });
    const user = callerOf({ sub: '0190ABCD-0000-7000-8000-000000000001', scope: 'users:read' });
    expect(user).toMatchObject({ kind: 'user', id: 'user:0190abcd-0000-7000-8000-000000000001', userId: '0190abcd-0000-7000-8000-000000000001' });
    expect(() => callerOf({ sub: 'someone', scope: 'users:read' })).toThrow(InvalidTokenError);
  });

  it('parses scopes and lifetimes', () => {
    expect([...parseScopes('users:read  users:write')]).toEqual(['users:read', 'users:write']);
    expect([...parseScopes('users:read,users:list')]).toEqual(['users:read', 'users:list']);
    expect(parseTtl('90')).toBe(90);
    expect(parseTtl('15m')).toBe(900);
    expect(parseTtl('7d')).toBe(604_800);
    expect(() => parseTtl('1 hour')).toThrow(/--ttl/);
    expect(() => parseTtl('0s')).toThrow(/positive/);
  });
});

describe('the token verifier', () => {
  it('verifies once, then answers from its cache without a signature check until the token expires', async () => {
    const dir = await keyDir();
    const keys = fileJwks(join(dir, 'jwks.json'));
    try {
      const verifier = new TokenVerifier(keys, { issuer: 'tessera', audience: 'tessera', clockToleranceSeconds: 5 });
      const key = await readSigningKey(join(dir, 'signing-key.jwk'));
      const now = Math.floor(Date.now() / 1000);
      const token = await mintToken(key, { scopes: ['users:read'], clientId: 'c', issuedAt: now, ttlSeconds: 60 });
      expect(verifier.cached(token)).toBeUndefined();
      expect(await verifier.verify(token)).toMatchObject({ kind: 'service', id: 'client:c' });
      expect(verifier.cached(token)).toMatchObject({ id: 'client:c' });
      // Past exp plus the leeway, the cached verdict no longer counts.
      expect(verifier.cached(token, (now + 66) * 1000)).toBeUndefined();
    } finally {
      keys.close();
    }
  });

  it('forgets cached verdicts when the JWKS file changes (a revoked key stops working)', async () => {
    const dir = await keyDir();
    const keys = fileJwks(join(dir, 'jwks.json'), { pollMs: 20 });
    try {
      const verifier = new TokenVerifier(keys, { issuer: 'tessera', audience: 'tessera' });
      const token = await mintToken(await readSigningKey(join(dir, 'signing-key.jwk')), { scopes: ['users:read'] });
      await verifier.verify(token);
      const other = await keyDir();
      await writeFile(join(dir, 'jwks.json'), await readFile(join(other, 'jwks.json'), 'utf8'));
      const deadline = Date.now() + 5000;
      while (verifier.cached(token) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(verifier.cached(token)).toBeUndefined();
      await expect(verifier.verify(token)).rejects.toThrow(/no key/);
    } finally {
      keys.close();
    }
  });
});
