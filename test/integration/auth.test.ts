/**
 * Who may do what, through NGINX as a client would: bearer JWTs verified by
 * the apps, scopes, user tokens that reach only their own user, refused
 * tokens of every kind, and key rotation without a restart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { SignJWT, base64url, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { newKeyPair, readSigningKey } from '../../src/auth/keys.js';
import { mintToken } from '../../src/auth/mint.js';
import { eventually } from '../support/cache.js';
import { stackKey, token, userAuthHeaders } from '../support/auth.js';
import { call, createUser, uniqueEmail } from '../support/http.js';
import { testStack } from '../support/stack.js';

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const NOBODY = '01890000-0000-7000-8000-000000000000';

/** Every /v1 operation with a path and body it accepts. */
function operations(id: string) {
  return [
    ['POST', '/v1/users', { email: uniqueEmail('auth'), name: 'x' }],
    ['GET', '/v1/users'],
    ['GET', `/v1/users/${id}`],
    ['GET', `/v1/users/by-email/${encodeURIComponent('someone@example.com')}`],
    ['PATCH', `/v1/users/${id}`, { name: 'x' }],
    ['DELETE', `/v1/users/${id}`],
    ['PUT', `/v1/users/${id}/data/k`, { v: 1 }],
    ['GET', `/v1/users/${id}/data/k`],
    ['DELETE', `/v1/users/${id}/data/k`],
    ['GET', `/v1/users/${id}/data`],
  ] as const;
}

function expectInvalidToken(res: { status: number; headers: Headers; body: any }, why?: RegExp) {
  expect(res.status).toBe(401);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="tessera", error="invalid_token"/);
  expect(res.body.code).toBe('TESSERA_ERR_UNAUTHENTICATED');
  if (why) expect(res.body.detail).toMatch(why);
}

describe('authentication', () => {
  it('every /v1 operation needs a bearer token; /healthz and /readyz stay open, and /readyz through NGINX says only ready or not', async () => {
    const { body: user } = await createUser();
    for (const [method, path, body] of operations(user.id)) {
      const res = await call(method, path, { auth: false, ...(body && { body }) });
      expectInvalidToken(res, /bearer token is required/);
    }
    // Nothing was changed by the refused calls.
    expect((await call('GET', `/v1/users/${user.id}`)).body).toEqual(user);
    expect((await call('GET', '/healthz', { auth: false })).status).toBe(200);
    const ready = await call('GET', '/readyz', { auth: false });
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });
  });

  it('/openapi.json declares the bearer scheme and the scope of every operation', async () => {
    const doc = (await call('GET', '/openapi.json', { auth: false })).body;
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    const scopes: Record<string, string> = {};
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        if (!path.startsWith('/v1/')) continue;
        expect(op.security, `${method} ${path}`).toHaveLength(1);
        scopes[`${method.toUpperCase()} ${path}`] = op.security[0].bearerAuth.join();
      }
    }
    expect(scopes).toEqual({
      'POST /v1/users': 'users:write',
      'GET /v1/users': 'users:list',
      'GET /v1/users/by-email/{email}': 'users:read',
      'GET /v1/users/{id}': 'users:read',
      'PATCH /v1/users/{id}': 'users:write',
      'DELETE /v1/users/{id}': 'users:write',
      'PUT /v1/users/{id}/data/{key}': 'users:write',
      'GET /v1/users/{id}/data/{key}': 'users:read',
      'DELETE /v1/users/{id}/data/{key}': 'users:write',
      'GET /v1/users/{id}/data': 'users:read',
    });
  });

  it('refuses malformed, expired, not-yet-valid, badly signed, unsigned, symmetric and foreign tokens with 401 invalid_token, changing nothing', async () => {
    const key = await stackKey();
    const now = Math.floor(Date.now() / 1000);
    const other = await newKeyPair();
    const impostor = await readSigningKeyFromJwk({ ...other.privateJwk, kid: key.kid });
    const payload = { scope: 'users:read users:write', client_id: 'mallory' };
    const b64 = (o: object) => base64url.encode(JSON.stringify(o));
    const cases: [string, string, RegExp][] = [
      ['a scheme other than Bearer', 'Basic dXNlcjpwYXNz', /not "Bearer <token>"/],
      ['an empty bearer', 'Bearer ', /not "Bearer <token>"/],
      ['garbage', 'Bearer not-a-jwt', /malformed/],
      ['expired beyond the leeway', `Bearer ${await mintToken(key, { scopes: ['users:write'], issuedAt: now - 7200, ttlSeconds: 60 })}`, /expired/],
      ['not valid before an hour from now', `Bearer ${await mintToken(key, { scopes: ['users:write'], issuedAt: now + 3600 })}`, /nbf/],
      ['another issuer', `Bearer ${await mintToken(key, { scopes: ['users:write'], issuer: 'evil' })}`, /iss/],
      ['another audience', `Bearer ${await mintToken(key, { scopes: ['users:write'], audience: 'other-service' })}`, /aud/],
      ['signed by another key under our kid', `Bearer ${await mintToken(impostor, { scopes: ['users:write'] })}`, /signature/],
      ['signed by a key we do not know', `Bearer ${await mintToken(await readSigningKeyFromJwk(other.privateJwk), { scopes: ['users:write'] })}`, /no key/],
      ['alg none', `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...payload, iss: 'tessera', aud: 'tessera', sub: 'mallory', exp: now + 600 })}.`, /algorithm|malformed/],
      ['HS256 with a guessed secret', `Bearer ${await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: key.kid }).setIssuer('tessera').setAudience('tessera').setSubject('mallory').setExpirationTime(now + 600).sign(new TextEncoder().encode('secret'))}`, /algorithm/],
      ['neither a client nor a user', `Bearer ${await new SignJWT({ scope: 'users:write' }).setProtectedHeader({ alg: 'EdDSA', kid: key.kid }).setIssuer('tessera').setAudience('tessera').setSubject('someone').setExpirationTime(now + 600).sign(key.key)}`, /neither a client/],
    ];
    for (const [what, authorization, why] of cases) {
      const email = uniqueEmail('refused');
      const res = await call('POST', '/v1/users', { body: { email, name: 'Mallory' }, headers: { authorization } });
      expect(res.status, what).toBe(401);
      expectInvalidToken(res, why);
      expect((await call('GET', `/v1/users/by-email/${encodeURIComponent(email)}`)).status, what).toBe(404);
    }
  });

  it('accepts a token within the clock leeway', async () => {
    const now = Math.floor(Date.now() / 1000);
    const justExpired = await mintToken(await stackKey(), { scopes: ['users:read'], issuedAt: now - 70, ttlSeconds: 60 });
    expect((await call('GET', `/v1/users/${NOBODY}`, { headers: bearer(justExpired) })).status).toBe(404);
  });
});

describe('scopes', () => {
  it('a token without the operation\'s scope gets 403 insufficient_scope naming it', async () => {
    const { body: user } = await createUser();
    const readOnly = bearer(await token({ scopes: ['users:read'] }));
    expect((await call('GET', `/v1/users/${user.id}`, { headers: readOnly })).status).toBe(200);
    const denied = await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'changed' }, headers: readOnly });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="tessera", error="insufficient_scope", scope="users:write"');
    expect(denied.body).toMatchObject({ code: 'TESSERA_ERR_INSUFFICIENT_SCOPE', scope: 'users:write' });
    expect((await call('GET', `/v1/users/${user.id}`)).body.name).toBe(user.name);
    const writeOnly = bearer(await token({ scopes: ['users:write'] }));
    expect((await call('GET', `/v1/users/${user.id}/data`, { headers: writeOnly })).status).toBe(403);
  });

  it('listing every user is a right of its own (users:list)', async () => {
    const readWrite = bearer(await token({ scopes: ['users:read', 'users:write'] }));
    const denied = await call('GET', '/v1/users?limit=5', { headers: readWrite });
    expect(denied.status).toBe(403);
    expect(denied.body.scope).toBe('users:list');
    const lister = bearer(await token({ scopes: ['users:list'] }));
    const page = await call('GET', '/v1/users?limit=5', { headers: lister });
    expect(page.status).toBe(200);
    expect(page.body.users.length).toBeGreaterThan(0);
  });
});

describe('user tokens', () => {
  it('reach only their own user and its documents; another user is 404 exactly like one that does not exist', async () => {
    const { body: alice } = await createUser({ name: 'Alice' });
    const { body: bob } = await createUser({ name: 'Bob' });
    expect((await call('PUT', `/v1/users/${bob.id}/data/secret`, { body: { pin: 1234 } })).status).toBe(201);
    const asAlice = await userAuthHeaders(alice.id);

    expect((await call('GET', `/v1/users/${alice.id}`, { headers: asAlice })).body).toEqual(alice);
    expect((await call('PUT', `/v1/users/${alice.id}/data/notes`, { body: ['mine'], headers: asAlice })).status).toBe(201);
    expect((await call('GET', `/v1/users/${alice.id}/data`, { headers: asAlice })).body.documents.map((d: any) => d.key)).toEqual(['notes']);
    expect((await call('GET', `/v1/users/by-email/${encodeURIComponent(alice.email.toUpperCase())}`, { headers: asAlice })).body.id).toBe(alice.id);

    const missing = await call('GET', `/v1/users/${NOBODY}`, { headers: asAlice });
    for (const [method, path, body] of [
      ['GET', `/v1/users/${bob.id}`],
      ['PATCH', `/v1/users/${bob.id}`, { name: 'Hacked' }],
      ['DELETE', `/v1/users/${bob.id}`],
      ['GET', `/v1/users/${bob.id}/data/secret`],
      ['PUT', `/v1/users/${bob.id}/data/secret`, { pin: 0 }],
      ['DELETE', `/v1/users/${bob.id}/data/secret`],
      ['GET', `/v1/users/${bob.id}/data`],
    ] as const) {
      const res = await call(method, path, { headers: asAlice, ...(body && { body }) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.code).toBe(missing.body.code);
      expect(res.body.detail).toBe(`no user ${bob.id}`);
    }
    // Bob's email is as unknown to Alice as an email nobody holds.
    const byEmail = await call('GET', `/v1/users/by-email/${encodeURIComponent(bob.email)}`, { headers: asAlice });
    expect(byEmail.status).toBe(404);
    expect(byEmail.body.code).toBe((await call('GET', `/v1/users/by-email/${encodeURIComponent(uniqueEmail('nobody'))}`, { headers: asAlice })).body.code);
    // Bob and his document are untouched.
    expect((await call('GET', `/v1/users/${bob.id}`)).body).toEqual(bob);
    expect((await call('GET', `/v1/users/${bob.id}/data/secret`)).body.value).toEqual({ pin: 1234 });
  });

  it('may not create users or list everyone (403), may change and delete their own user', async () => {
    const { body: carol } = await createUser({ name: 'Carol' });
    const asCarol = await userAuthHeaders(carol.id, ['users:read', 'users:write', 'users:list']);
    const create = await call('POST', '/v1/users', { body: { email: uniqueEmail('by-user'), name: 'New' }, headers: asCarol });
    expect(create.status).toBe(403);
    expect(create.body.code).toBe('TESSERA_ERR_FORBIDDEN');
    expect((await call('GET', '/v1/users', { headers: asCarol })).status).toBe(403);
    expect((await call('PATCH', `/v1/users/${carol.id}`, { body: { name: 'Carol C.' }, headers: asCarol })).body.name).toBe('Carol C.');
    expect((await call('DELETE', `/v1/users/${carol.id}`, { headers: asCarol })).status).toBe(204);
    expect((await call('GET', `/v1/users/${carol.id}`)).status).toBe(404);
  });

  it('hold the scopes they carry: a read-only user token cannot write its own user', async () => {
    const { body: dave } = await createUser({ name: 'Dave' });
    const res = await call('PATCH', `/v1/users/${dave.id}`, { body: { name: 'x' }, headers: await userAuthHeaders(dave.id, ['users:read']) });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('TESSERA_ERR_INSUFFICIENT_SCOPE');
  });
});

describe('key rotation', () => {
  it('a new key in the JWKS is accepted and a removed key refused, without restarting the apps', async () => {
    const stack = testStack();
    const jwksFile = stack.auth!.jwksFile;
    const original = readFileSync(jwksFile, 'utf8');
    const oldToken = bearer(await token({ scopes: ['users:read'] }));
    const next = await newKeyPair();
    const nextToken = bearer(await mintToken(await readSigningKeyFromJwk(next.privateJwk), { scopes: ['users:read'] }));
    const get = async (headers: Record<string, string>, app: number) => (await call('GET', `/v1/users/${NOBODY}`, { headers, base: stack.apps[app]!.url })).status;
    const everyApp = async (headers: Record<string, string>, status: number) =>
      (await Promise.all(stack.apps.map((_, i) => get(headers, i)))).every((s) => s === status);
    const writeJwks = async (keys: object[]) => {
      writeFileSync(`${jwksFile}.new`, JSON.stringify({ keys }));
      await rename(`${jwksFile}.new`, jwksFile); // as a secret update or `tessera keys rotate` would: atomically
    };
    try {
      expect(await everyApp(nextToken, 401)).toBe(true);
      // Rotation: the new public key joins the old one.
      await writeJwks([...JSON.parse(original).keys, next.publicJwk]);
      expect(await eventually(() => everyApp(nextToken, 404), 10_000, 200)).toBe(true);
      expect(await everyApp(oldToken, 404)).toBe(true);
      // Revocation: the old key leaves, and tokens it signed stop working at once, cached or not.
      await writeJwks([next.publicJwk]);
      expect(await eventually(() => everyApp(oldToken, 401), 10_000, 200)).toBe(true);
      expect(await everyApp(nextToken, 404)).toBe(true);
    } finally {
      writeFileSync(`${jwksFile}.new`, original);
      await rename(`${jwksFile}.new`, jwksFile);
      // Later suites use the stack's own key again.
      expect(await eventually(() => everyApp(oldToken, 404), 10_000, 200)).toBe(true);
    }
  });

  it('an ES256 key works as well as an Ed25519 one', async () => {
    const stack = testStack();
    const jwksFile = stack.auth!.jwksFile;
    const original = readFileSync(jwksFile, 'utf8');
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const pub = { ...(await exportJWK(publicKey)), kid: 'es256-test', alg: 'ES256', use: 'sig' };
    const signer = await readSigningKeyFromJwk({ ...(await exportJWK(privateKey)), kid: 'es256-test' });
    const es = bearer(await mintToken(signer, { scopes: ['users:read'] }));
    try {
      writeFileSync(`${jwksFile}.new`, JSON.stringify({ keys: [...JSON.parse(original).keys, pub] }));
      await rename(`${jwksFile}.new`, jwksFile);
      expect(await eventually(async () => (await call('GET', `/v1/users/${NOBODY}`, { headers: es, base: stack.apps[0]!.url })).status === 404, 10_000, 200)).toBe(true);
    } finally {
      writeFileSync(`${jwksFile}.new`, original);
      await rename(`${jwksFile}.new`, jwksFile);
    }
  });
});

/** A signing key from a private JWK in memory (readSigningKey reads files). */
async function readSigningKeyFromJwk(jwk: object) {
  const file = `${testStack().dir}/auth/test-key-${Math.random().toString(36).slice(2)}.jwk`;
  writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  return readSigningKey(file);
}
