/**
 * The compose stack as a client sees it, through NGINX on 127.0.0.1: the API
 * smoke test, every replica answering, and the images being what the
 * Dockerfiles say (Debian's servers, the official Node binary, non-root).
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { call } from './support/http.js';
import { addressOn, composeContext, containersOf, docker, hostnameOf, waitFor, waitHealthy } from './support/compose.js';

let base: string;

async function api(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string>; base?: string } = {}) {
  return call(method, path, { ...opts, base: opts.base ?? base, headers: opts.headers ?? {} });
}

beforeAll(async () => {
  base = composeContext().baseUrl;
  await waitHealthy('app', composeContext().apps);
});

describe('the compose stack through NGINX', () => {
  it('creates a user, then every replica reads it with the write\'s consistency token; documents; a duplicate email is 409', async () => {
    const email = `smoke-${randomUUID()}@example.com`;
    const created = await api('POST', '/v1/users', { body: { email, name: 'Ada', profile: { lang: 'en' } } });
    expect(created.status).toBe(201);
    const user = created.body as { id: string; email: string; version: number };
    expect(user).toMatchObject({ email, name: 'Ada', version: 1 });
    const token = created.headers.get('x-tessera-consistency')!;
    expect(token).toMatch(/^shard-[ab]@[0-9A-F]+\/[0-9A-F]+$/);

    // Straight to each replica's container (no NGINX choosing): each one reads its own way, from a source past the write.
    const apps = containersOf('app');
    expect(apps).toHaveLength(composeContext().apps);
    for (const id of apps) {
      const direct = `http://${addressOn(id, 'edge')}:3000`;
      const read = await api('GET', `/v1/users/${user.id}`, { base: direct, headers: { 'x-tessera-consistency': token } });
      expect(read.status, direct).toBe(200);
      expect(read.body).toEqual(created.body);
      expect(read.headers.get('x-tessera-app')).toBe(hostnameOf(id));
    }

    const put = await api('PUT', `/v1/users/${user.id}/data/settings`, { body: { theme: 'dark' } });
    expect(put.status).toBe(201);
    const doc = await api('GET', `/v1/users/${user.id}/data/settings`, { headers: { 'x-tessera-consistency': put.headers.get('x-tessera-consistency')! } });
    expect(doc.status).toBe(200);
    expect(doc.body).toMatchObject({ key: 'settings', value: { theme: 'dark' }, version: 1 });
    const listed = await api('GET', `/v1/users/${user.id}/data?prefix=sett`, { headers: { 'x-tessera-consistency': put.headers.get('x-tessera-consistency')! } });
    expect(listed.status).toBe(200);
    expect((listed.body as { documents: { key: string }[] }).documents.map((d) => d.key)).toEqual(['settings']);

    const dup = await api('POST', '/v1/users', { body: { email: email.toUpperCase(), name: 'Copy' } });
    expect(dup.status).toBe(409);
    expect(dup.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect((dup.body as { code: string }).code).toBe('TESSERA_ERR_EMAIL_TAKEN');
    expect(dup.headers.get('x-request-id')).toBeTruthy();
  });

  it('spreads requests over all three replicas (X-Tessera-App)', async () => {
    const expected = containersOf('app').map(hostnameOf).sort();
    const seen = new Set<string>();
    // Bounded: each request picks a replica at random, so 3 show up long before 300 requests.
    await waitFor('responses from every replica', 60_000, async () => {
      const res = await api('GET', '/readyz');
      expect(res.status).toBe(200);
      seen.add(res.headers.get('x-tessera-app') ?? '?');
      return seen.size === expected.length ? true : undefined;
    }, 0);
    expect([...seen].sort()).toEqual(expected);
  });

  it('answers NGINX\'s own problem+json and hides /metrics', async () => {
    const metrics = await api('GET', '/metrics');
    expect(metrics.status).toBe(404);
    expect((metrics.body as { code: string }).code).toBe('TESSERA_ERR_ROUTE_NOT_FOUND');
    const tooLarge = await api('PUT', `/v1/users/${randomUUID()}/data/big`, { body: { blob: 'x'.repeat(1_100_000) } });
    expect(tooLarge.status).toBe(413);
    expect((tooLarge.body as { code: string }).code).toBe('TESSERA_ERR_PAYLOAD_TOO_LARGE');
  });
});

describe('the images', () => {
  it('run the app as a non-root user on the official Node 20 binary, with no dev dependency, and a liveness HEALTHCHECK', () => {
    const [app] = containersOf('app');
    expect(docker(['exec', app!, 'id', '-u']).trim()).toBe('10001');
    expect(docker(['exec', app!, 'node', '--version']).trim()).toMatch(/^v20\.\d+\.\d+$/);
    const modules = docker(['exec', app!, 'sh', '-c', 'ls /app/node_modules']).split('\n');
    expect(modules).toContain('fastify');
    for (const dev of ['typescript', 'vitest', 'eslint', 'autocannon', 'testcontainers']) expect(modules, dev).not.toContain(dev);
    expect(docker(['exec', app!, 'sh', '-c', 'command -v npm || echo none']).trim()).toBe('none');
    const health = docker(['inspect', '--format', '{{json .Config.Healthcheck.Test}}', app!]);
    expect(health).toContain('/healthz');
  });

  it('serve PostgreSQL 15, Redis and NGINX 1.22 from Debian\'s packages, on the one base image', () => {
    const [shard] = containersOf('shard-a');
    expect(docker(['exec', shard!, 'postgres', '--version'])).toMatch(/\(PostgreSQL\) 15\.\d+ \(Debian/);
    const [redis] = containersOf('redis');
    expect(docker(['exec', redis!, 'dpkg-query', '-W', '-f', '${Version}', 'redis-server'])).toMatch(/^5:7\./);
    const [nginx] = containersOf('nginx');
    expect(docker(['exec', nginx!, 'dpkg-query', '-W', '-f', '${Version}', 'nginx-light'])).toMatch(/^1\.22\./);
    // Every image of the stack shares the base's bottom layer.
    const images = ['app', 'shard-a', 'redis', 'nginx'].map((s) => docker(['inspect', '--format', '{{.Image}}', containersOf(s)[0]!]).trim());
    const bottoms = images.map((img) => JSON.parse(docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', img])) as string[]).map((layers) => layers[0]);
    const base = JSON.parse(docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'debian:bookworm-slim'])) as string[];
    expect(new Set(bottoms)).toEqual(new Set([base[0]]));
  });

  it('publish nothing but NGINX, on 127.0.0.1', () => {
    const { project } = composeContext();
    const ports = docker(['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.Ports}}'])
      .split('\n').filter((l) => l.includes('->'));
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatch(/^nginx 127\.0\.0\.1:\d+->8080\/tcp$/);
  });
});
