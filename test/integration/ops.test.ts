import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { testStack } from '../support/stack.js';

const run = promisify(execFile);

describe('operations endpoints and commands', () => {
  it('/healthz answers while the process lives; /readyz reports the shard map version and every shard', async () => {
    for (const app of testStack().apps) {
      expect((await call('GET', '/healthz', { base: app.url })).body).toEqual({ status: 'ok' });
      const ready = await call('GET', '/readyz', { base: app.url });
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: 'ready', appId: app.id, catalog: 'up', shards: { 'shard-a': 'up', 'shard-b': 'up' } });
      expect(ready.body.mapVersion).toBeGreaterThanOrEqual(1);
    }
  });

  it('/metrics is Prometheus text on each app, and NGINX does not expose it', async () => {
    const app = testStack().apps[0]!;
    const res = await fetch(`${app.url}/metrics`);
    const text = await res.text();
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    expect(text).toMatch(/^tessera_shard_map_version\{app="app-1"\} \d+$/m);
    expect(text).toContain('tessera_http_requests_total');
    expect((await call('GET', '/metrics')).status).toBe(404);
  });

  it('/openapi.json documents every route with the schemas that validate requests', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/v1/users', '/v1/users/{id}', '/v1/users/by-email/{email}', '/v1/users/{id}/data', '/v1/users/{id}/data/{key}']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    const create = doc.paths['/v1/users'].post.requestBody.content['application/json'].schema;
    expect(create.additionalProperties).toBe(false);
    expect(create.required).toEqual(expect.arrayContaining(['email', 'name']));
  });

  it('every response carries a request id, passed through from the caller when given', async () => {
    const res = await call('GET', '/healthz', { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
    expect((await call('GET', '/healthz')).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{16,}$/);
  });

  it('`tessera migrate` is idempotent on a migrated stack', async () => {
    const stack = testStack();
    for (let i = 0; i < 2; i++) {
      const { stdout, stderr } = await run(process.execPath, ['bin/tessera.mjs', 'migrate', '--catalog', stack.catalog.url]);
      expect(stderr).toMatch(/catalog: up to date/);
      expect(stderr).toMatch(/shard-a: up to date/);
      expect(stdout).toMatch(/shard map v\d+/);
    }
  });

  it('`tessera status` shows the topology, the map version and healthy processes', async () => {
    const { stdout } = await run(process.execPath, ['bin/tessera.mjs', 'status', '--dir', testStack().dir]);
    expect(stdout).toMatch(/shard-a/);
    expect(stdout).toMatch(/shard-b/);
    expect(stdout).toMatch(/app-1/);
    expect(stdout).toMatch(/v\d+|version/i);
  });
});
