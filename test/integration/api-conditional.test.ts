/** Conditional requests through NGINX, as RFC 9110 §13 has them; a failed precondition changes nothing. */
import { describe, expect, it } from 'vitest';
import { call, createUser } from '../support/http.js';

function expectProblem(res: { status: number; headers: Headers; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
}

const failed = (res: { status: number; headers: Headers; body: any }) => expectProblem(res, 412, 'TESSERA_ERR_PRECONDITION_FAILED');

async function withDocument(value: unknown = { n: 1 }) {
  const { body: user } = await createUser();
  const path = `/v1/users/${user.id}/data/doc`;
  expect((await call('PUT', path, { body: value })).status).toBe(201);
  return { user, path };
}

describe('If-Match', () => {
  it('compares strongly: W/"1" never matches, on PATCH, PUT and DELETE, and nothing changes', async () => {
    const { user, path } = await withDocument();
    failed(await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'x' }, headers: { 'if-match': 'W/"1"' } }));
    failed(await call('PUT', path, { body: 2, headers: { 'if-match': 'W/"1"' } }));
    failed(await call('DELETE', path, { headers: { 'if-match': 'W/"1"' } }));
    failed(await call('DELETE', `/v1/users/${user.id}`, { headers: { 'if-match': 'W/"1"' } }));
    expect((await call('GET', `/v1/users/${user.id}`)).body).toMatchObject({ name: user.name, version: 1 });
    expect((await call('GET', path)).body).toMatchObject({ value: { n: 1 }, version: 1 });
  });

  it('accepts a list of tags: any one of them matching is enough', async () => {
    const { user } = await withDocument();
    const res = await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'listed' }, headers: { 'if-match': '"7", W/"1", "1"' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'listed', version: 2 });
    failed(await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'x' }, headers: { 'if-match': '"7", "1"' } }));
  });

  it('malformed tags are 400 naming the header, and change nothing', async () => {
    const { user, path } = await withDocument();
    for (const bad of ['1', '"1', 'W/1', '*, "1"', 'banana', '"1" "2"']) {
      for (const name of ['if-match', 'if-none-match']) {
        const res = await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'x' }, headers: { [name]: bad } });
        expectProblem(res, 400, 'TESSERA_ERR_VALIDATION');
        expect(res.body.field, `${name}: ${bad}`).toBe(`headers.${name}`);
        expectProblem(await call('DELETE', path, { headers: { [name]: bad } }), 400, 'TESSERA_ERR_VALIDATION');
        expectProblem(await call('GET', path, { headers: { [name]: bad } }), 400, 'TESSERA_ERR_VALIDATION');
      }
    }
    expect((await call('GET', `/v1/users/${user.id}`)).body.version).toBe(1);
    expect((await call('GET', path)).status).toBe(200);
  });

  it('DELETE honours it, for users and for documents', async () => {
    const { user, path } = await withDocument();
    failed(await call('DELETE', path, { headers: { 'if-match': '"2"' } }));
    expect((await call('GET', path)).status).toBe(200);
    expect((await call('DELETE', path, { headers: { 'if-match': '"1"' } })).status).toBe(204);
    expect((await call('GET', path)).status).toBe(404);

    failed(await call('DELETE', `/v1/users/${user.id}`, { headers: { 'if-match': '"2"' } }));
    expect((await call('GET', `/v1/users/${user.id}`)).status).toBe(200);
    expect((await call('DELETE', `/v1/users/${user.id}`, { headers: { 'if-match': '*' } })).status).toBe(204);
    expect((await call('GET', `/v1/users/${user.id}`)).status).toBe(404);
  });

  it('a request that would be 404 without preconditions is 404 with them, not 412', async () => {
    const ghost = '01890000-0000-7000-8000-00000000abcd';
    expectProblem(await call('DELETE', `/v1/users/${ghost}`, { headers: { 'if-match': '"1"' } }), 404, 'TESSERA_ERR_USER_NOT_FOUND');
    expectProblem(await call('PATCH', `/v1/users/${ghost}`, { body: { name: 'x' }, headers: { 'if-match': '*' } }), 404, 'TESSERA_ERR_USER_NOT_FOUND');
    expectProblem(await call('PUT', `/v1/users/${ghost}/data/k`, { body: 1, headers: { 'if-match': '*' } }), 404, 'TESSERA_ERR_USER_NOT_FOUND');
    const { user } = await withDocument();
    expectProblem(await call('DELETE', `/v1/users/${user.id}/data/none`, { headers: { 'if-match': '"1"' } }), 404, 'TESSERA_ERR_DOCUMENT_NOT_FOUND');
    expectProblem(await call('GET', `/v1/users/${user.id}/data/none`, { headers: { 'if-match': '"1"' } }), 404, 'TESSERA_ERR_DOCUMENT_NOT_FOUND');
  });
});

describe('If-None-Match', () => {
  it('PUT with both If-Match: * and If-None-Match: * is 412 whether the document exists or not, and stores nothing', async () => {
    const { user, path } = await withDocument({ keep: true });
    const both = { 'if-match': '*', 'if-none-match': '*' };
    failed(await call('PUT', path, { body: { overwritten: true }, headers: both }));
    expect((await call('GET', path)).body).toMatchObject({ value: { keep: true }, version: 1 });
    failed(await call('PUT', `/v1/users/${user.id}/data/fresh`, { body: 1, headers: both }));
    expect((await call('GET', `/v1/users/${user.id}/data/fresh`)).status).toBe(404);
  });

  it('PUT with If-None-Match: a tag list refuses to overwrite a matching version and creates a missing one', async () => {
    const { user, path } = await withDocument();
    failed(await call('PUT', path, { body: 2, headers: { 'if-none-match': 'W/"1"' } }));
    expect((await call('PUT', path, { body: 2, headers: { 'if-none-match': '"9"' } })).status).toBe(200);
    expect((await call('PUT', `/v1/users/${user.id}/data/new`, { body: 3, headers: { 'if-none-match': '"1"' } })).status).toBe(201);
  });

  it('PATCH honours it: * is 412 for an existing user, a matching tag is 412, another tag proceeds', async () => {
    const { body: user } = await createUser({ name: 'Before' });
    failed(await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'x' }, headers: { 'if-none-match': '*' } }));
    failed(await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'x' }, headers: { 'if-none-match': '"1"' } }));
    expect((await call('GET', `/v1/users/${user.id}`)).body).toMatchObject({ name: 'Before', version: 1 });
    const res = await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'After' }, headers: { 'if-none-match': '"2", "3"' } });
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(2);
  });

  it('a GET whose ETag matches (weakly) is 304 with the ETag and no body; a GET whose If-Match fails is 412', async () => {
    const { user, path } = await withDocument();
    for (const [url, etag] of [[path, '"1"'], [`/v1/users/${user.id}`, '"1"'], [`/v1/users/by-email/${user.email}`, '"1"']] as const) {
      for (const tag of ['"1"', 'W/"1"', '"0", "1"', '*']) {
        const res = await call('GET', url, { headers: { 'if-none-match': tag } });
        expect(res.status, `${url} ${tag}`).toBe(304);
        expect(res.headers.get('etag')).toBe(etag);
        expect(res.body).toBeUndefined();
      }
      expect((await call('GET', url, { headers: { 'if-none-match': '"2"' } })).status).toBe(200);
      failed(await call('GET', url, { headers: { 'if-match': '"2"' } }));
      expect((await call('GET', url, { headers: { 'if-match': '"1"' } })).status).toBe(200);
    }
  });
});
