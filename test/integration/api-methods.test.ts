/**
 * Every error is problem+json whether NGINX or an app replica produced it:
 * methods the API does not serve, oversized headers and URIs.
 */
import { describe, expect, it } from 'vitest';
import { call, createUser, rawCall } from '../support/http.js';

function expectProblem(res: { status: number; headers: Headers; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
  expect(res.headers.get('x-request-id')).toBeTruthy();
}

describe('methods', () => {
  it('TRACE, CONNECT, WebDAV and made-up methods are 405 with the path’s Allow, and never reach an app', async () => {
    const { body: user } = await createUser();
    const cases: [string, string][] = [
      ['/v1/users', 'GET, HEAD, POST, OPTIONS'],
      [`/v1/users/${user.id}`, 'GET, HEAD, PATCH, DELETE, OPTIONS'],
      [`/v1/users/${user.id}/data/k`, 'GET, HEAD, PUT, DELETE, OPTIONS'],
      ['/healthz', 'GET, HEAD, OPTIONS'],
    ];
    for (const [path, allow] of cases) {
      for (const method of ['TRACE', 'CONNECT', 'PROPFIND', 'FOO']) {
        const res = await rawCall(method, path);
        expectProblem(res, 405, 'TESSERA_ERR_METHOD_NOT_ALLOWED');
        expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
        expect(res.headers.get('x-tessera-app'), `${method} ${path}`).toBeNull();
      }
    }
    expectProblem(await rawCall('FOO', '/nowhere'), 404, 'TESSERA_ERR_ROUTE_NOT_FOUND');
    // The user is untouched by any of them.
    expect((await call('GET', `/v1/users/${user.id}`)).body.version).toBe(1);
  });

  it('a method the API uses, on a path that does not take it, is 405 with Allow from the app, and changes nothing', async () => {
    const { body: user } = await createUser();
    const cases: [string, string, string][] = [
      ['DELETE', '/v1/users', 'GET, HEAD, POST, OPTIONS'],
      ['PUT', `/v1/users/${user.id}`, 'GET, HEAD, PATCH, DELETE, OPTIONS'],
      ['POST', `/v1/users/${user.id}`, 'GET, HEAD, PATCH, DELETE, OPTIONS'],
      ['PATCH', `/v1/users/${user.id}/data/k`, 'GET, HEAD, PUT, DELETE, OPTIONS'],
      ['POST', `/v1/users/${user.id}/data`, 'GET, HEAD, OPTIONS'],
      ['DELETE', `/v1/users/by-email/${user.email}`, 'GET, HEAD, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await call(method, path, { body: { name: 'changed' } });
      expectProblem(res, 405, 'TESSERA_ERR_METHOD_NOT_ALLOWED');
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
    }
    expect((await call('GET', `/v1/users/${user.id}`)).body).toMatchObject({ name: user.name, version: 1 });
    expect((await call('GET', `/v1/users/${user.id}/data/k`)).status).toBe(404);
    // An unknown path stays 404.
    expectProblem(await call('DELETE', '/v2/users'), 404, 'TESSERA_ERR_ROUTE_NOT_FOUND');
  });

  it('OPTIONS answers 204 with Allow for a path that exists, 404 otherwise', async () => {
    const res = await call('OPTIONS', '/v1/users');
    expect(res.status).toBe(204);
    expect(res.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
    expectProblem(await call('OPTIONS', '/v2/users'), 404, 'TESSERA_ERR_ROUTE_NOT_FOUND');
  });
});

describe('sizes', () => {
  it('a header larger than NGINX takes is 431 problem+json, not an HTML 400', async () => {
    expectProblem(await rawCall('GET', '/healthz', { headers: { 'x-big': 'a'.repeat(9000) } }), 431, 'TESSERA_ERR_HEADERS_TOO_LARGE');
  });

  it('headers that pass NGINX but exceed what an app replica takes are 431 problem+json too', async () => {
    const headers = Object.fromEntries([1, 2, 3].map((i) => [`x-big-${i}`, 'a'.repeat(7000)]));
    expectProblem(await rawCall('GET', '/healthz', { headers }), 431, 'TESSERA_ERR_HEADERS_TOO_LARGE');
  });

  it('a URI longer than NGINX takes is 414 problem+json', async () => {
    expectProblem(await rawCall('GET', `/v1/users/${'a'.repeat(9000)}`), 414, 'TESSERA_ERR_URI_TOO_LONG');
  });

  it('a path parameter longer than its schema allows is a 400 naming it, not a routing error', async () => {
    const res = await call('GET', `/v1/users/by-email/${'a'.repeat(4000)}@example.com`);
    expectProblem(res, 400, 'TESSERA_ERR_VALIDATION');
    expect(res.body.field).toBe('params.email');
  });
});
