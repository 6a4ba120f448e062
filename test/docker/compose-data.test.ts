/**
 * The compose stack's data: reads go on while a shard's replica container is
 * dead, and `docker compose down` followed by `up` keeps every user (named
 * volumes), the replicas streaming again.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, type Reply } from './support/http.js';
import { cli, compose, composeContext, containersOf, docker, waitFor, waitHealthy } from './support/compose.js';
import { composeUp } from './support/up.js';

interface User {
  id: string;
  email: string;
  name: string;
  version: number;
}

let base: string;

async function api(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  return call(method, path, { ...opts, base, headers: opts.headers ?? {} });
}

async function createUsers(n: number, tag: string): Promise<{ user: User; shard: string }[]> {
  const out: { user: User; shard: string }[] = [];
  for (let i = 0; i < n; i++) {
    const res = await api('POST', '/v1/users', { body: { email: `${tag}-${randomUUID()}@example.com`, name: `${tag} ${i}`, profile: { i } } });
    expect(res.status).toBe(201);
    out.push({ user: res.body as User, shard: res.headers.get('x-tessera-shard')! });
  }
  return out;
}

/** `tessera status` in the cli container: its report, and whether it exited 0. */
function status(): { text: string; healthy: boolean } {
  try {
    return { text: cli(['status']), healthy: true };
  } catch (err) {
    return { text: (err as Error).message, healthy: false };
  }
}

beforeAll(async () => {
  base = composeContext().baseUrl;
  await waitHealthy('app', composeContext().apps);
});

describe('a shard replica that dies', () => {
  it('does not fail a read: its shard is read from the primary until it is back, then it streams again', async () => {
    const created = await createUsers(24, 'replica');
    const onA = created.filter((c) => c.shard === 'shard-a');
    expect(onA.length).toBeGreaterThan(0);
    const [replica] = containersOf('shard-a-replica');
    docker(['kill', replica!]);
    expect(docker(['inspect', '--format', '{{.State.Running}}', replica!]).trim()).toBe('false');

    // The first read of each user: no cache holds it, so a database answers.
    const sources = new Map<string, number>();
    for (const { user, shard } of created) {
      const res = await api('GET', `/v1/users/${user.id}`);
      expect(res.status, `${shard} ${user.id}: ${JSON.stringify(res.body)}`).toBe(200);
      expect(res.body).toEqual(user);
      if (shard === 'shard-a') {
        const source = res.headers.get('x-tessera-source') ?? res.headers.get('x-tessera-cache') ?? '?';
        sources.set(source, (sources.get(source) ?? 0) + 1);
      }
    }
    // Without its replica, shard-a's misses are served by its primary.
    expect(sources.get('replica') ?? 0).toBe(0);
    expect(sources.get('primary') ?? 0).toBeGreaterThan(0);
    const down = status();
    expect(down.healthy).toBe(false);
    expect(down.text).toMatch(/FAIL shard-a replica shard-a-replica:5432/);

    docker(['start', replica!]);
    await waitHealthy('shard-a-replica', 1);
    const back = await waitFor('tessera status healthy again', 60_000, () => {
      const s = status();
      return s.healthy ? s.text : undefined;
    }, 1000);
    expect(back).toMatch(/ok {3}shard-a replica shard-a-replica:5432 +in recovery, streaming, lag \d+ B/);
  });
});

describe('docker compose down, then up', () => {
  it('keeps every user and document in the named volumes, and the replicas stream again', async () => {
    const created = await createUsers(20, 'persist');
    for (const { user } of created.slice(0, 5)) {
      expect((await api('PUT', `/v1/users/${user.id}/data/kept`, { body: { id: user.id } })).status).toBe(201);
    }
    const { project } = composeContext();
    const volumes = docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]).split('\n').filter(Boolean).sort();
    // Every database's data volume (compose may also have made the optional profiles' volumes).
    for (const db of ['catalog', 'shard-a', 'shard-a-replica', 'shard-b', 'shard-b-replica']) expect(volumes).toContain(`${project}_${db}-data`);

    compose(['down', '--timeout', '20'], { timeoutMs: 180_000 });
    expect(containersOf('app', { all: true })).toEqual([]);
    expect(containersOf('shard-a', { all: true })).toEqual([]);
    expect(docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]).split('\n').filter(Boolean).sort()).toEqual(volumes);

    await composeUp(composeContext(), { build: false });
    // The first start after `up` reuses the data directories (no initdb, no new base backup), in the roles the catalog names.
    const replicaLog = compose(['logs', '--no-color', 'shard-a-replica']);
    expect(replicaLog).toMatch(/holds a standby: starting it as a standby of shard-a, the primary of shard-a/);
    expect(replicaLog).not.toMatch(/cloning|creating a new cluster/);
    expect(compose(['logs', '--no-color', 'shard-a'])).toMatch(/the catalog names this instance the primary of shard-a: starting as it is/);
    for (const { user } of created) {
      const res = await waitFor(`user ${user.id} readable after up`, 30_000, async () => {
        const r = await api('GET', `/v1/users/${user.id}`);
        return r.status === 200 ? r : undefined;
      });
      expect(res.body).toEqual(user);
    }
    for (const { user } of created.slice(0, 5)) {
      expect((await api('GET', `/v1/users/${user.id}/data/kept`)).body).toMatchObject({ key: 'kept', value: { id: user.id } });
    }
    const s = await waitFor('tessera status healthy after up', 60_000, () => {
      const r = status();
      return r.healthy ? r.text : undefined;
    }, 1000);
    expect(s.match(/in recovery, streaming/g)).toHaveLength(2);
  });
});
