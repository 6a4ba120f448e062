/**
 * The tessera CLI against the compose stack, in its `cli` service
 * (`docker compose run --rm cli …`, on the stack's networks): status, seed,
 * and a reshard that moves a key range to the other shard under a light
 * write load without losing an acknowledged write. (`tessera scale
 * --compose` runs from the host: compose-edge.test.ts.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call } from './support/http.js';
import { cli, composeContext, waitFor, waitHealthy } from './support/compose.js';
import { underLoad, type AckedWrite } from './support/load.js';

let base: string;

beforeAll(async () => {
  base = composeContext().baseUrl;
  await waitHealthy('app', composeContext().apps);
});

async function readable(w: AckedWrite): Promise<boolean> {
  const path = w.kind === 'user' ? `/v1/users/${w.id}` : `/v1/users/${w.userId}/data/${w.key}`;
  const res = await call('GET', path, { base });
  if (res.status !== 200) return false;
  return w.kind === 'user' ? (res.body as { email: string }).email === w.email : JSON.stringify((res.body as { value: unknown }).value) === JSON.stringify(w.value);
}

describe('tessera in the cli service', () => {
  it('status: the catalog, both shards with a streaming replica each, Redis, NGINX and every live app', () => {
    const out = cli(['status']);
    expect(out).toMatch(/^ {2}ok {3}catalog catalog:5432 +shard map v\d+$/m);
    for (const shard of ['shard-a', 'shard-b']) {
      expect(out).toMatch(new RegExp(`ok {3}${shard} primary ${shard}:5432 +accepting writes, 1 replica\\(s\\) streaming`));
      expect(out).toMatch(new RegExp(`ok {3}${shard} replica ${shard}-replica:5432 +in recovery, streaming, lag \\d+ B`));
    }
    expect(out).toMatch(/ok {3}redis redis:6379 +PONG/);
    expect(out).toMatch(/ok {3}edge http:\/\/nginx:8080 +\/readyz 200 ready/);
    expect(out).toMatch(new RegExp(`^apps: ${composeContext().apps} live, map v\\d+$`, 'm'));
    expect(out).toMatch(/^all healthy$/m);
    const json = JSON.parse(cli(['status', '--json'])) as { healthy: boolean; shards: { name: string }[] };
    expect(json.healthy).toBe(true);
    expect(json.shards.map((s) => s.name)).toEqual(['shard-a', 'shard-b']);
  });

  it('token: a bearer token signed with the stack\'s key; nothing under /v1 gets through NGINX without one', async () => {
    const token = cli(['token', '--scope', 'users:read']).trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const bearer = { authorization: `Bearer ${token}` };
    const missing = '01890000-0000-7000-8000-000000000000';
    expect((await call('GET', `/v1/users/${missing}`, { base, headers: bearer })).status).toBe(404);
    const write = await call('POST', '/v1/users', { base, headers: bearer, body: { email: 'scope@example.com', name: 'No' } });
    expect(write.status).toBe(403);
    expect((write.body as { code: string }).code).toMatch(/SCOPE/);
    const anonymous = await call('GET', `/v1/users/${missing}`, { base, auth: false });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm="tessera", error="invalid_token"/);
  });

  it('seed: users and documents through NGINX', async () => {
    // --out /dev/stdout: the ids come back on the command's output, first, as one JSON line.
    const [file, summary] = cli(['seed', '--users', '40', '--docs-per-user', '1', '--out', '/dev/stdout']).trim().split('\n');
    expect(summary).toMatch(/^seeded 40 users and 40 documents at http:\/\/nginx:8080/);
    const seeded = JSON.parse(file!) as { users: { id: string; email: string }[] };
    expect(seeded.users).toHaveLength(40);
    // Visible from the host, through the published NGINX.
    for (const u of seeded.users.slice(0, 5)) {
      const res = await waitFor(`seeded user ${u.id} readable`, 10_000, async () => {
        const r = await call('GET', `/v1/users/${u.id}`, { base });
        return r.status === 200 ? r : undefined;
      });
      expect(res.body).toMatchObject({ id: u.id, email: u.email });
      expect((await call('GET', `/v1/users/${u.id}/data/seed.doc-0`, { base })).status).toBe(200);
    }
  });

  it('reshard plan --move 40-80 --to shard-b --apply: the range moves under a write load, and every acknowledged write is there after', async () => {
    const users: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await call('POST', '/v1/users', { base, body: { email: `reshard-${i}-${Date.now()}@example.com`, name: 'Reshard' } });
      expect(res.status).toBe(201);
      users.push((res.body as { id: string }).id);
    }
    const dryRun = cli(['reshard', 'plan', '--move', '40-80', '--to', 'shard-b']);
    expect(dryRun).toMatch(/move 40-80 +shard-a → shard-b/);
    expect(dryRun).toMatch(/dry run: nothing stored/);

    const { result, stats } = await underLoad(base, users, ['post', 'put', 'get'], async () =>
      cli(['reshard', 'plan', '--move', '40-80', '--to', 'shard-b', '--apply', '--cleanup'], { timeoutMs: 300_000 }),
    { clients: 4, before: 50, after: 100, timeoutMs: 120_000 });
    expect(stats.failures).toEqual([]);
    expect(result).toMatch(/range +40-80: shard-a → shard-b/);
    expect(result).toMatch(/cutover +write window [\d.]+ ms/);
    expect(result).toMatch(/phase +done/);
    const writes = stats.acked;
    expect(writes.filter((w) => w.kind === 'user').length).toBeGreaterThan(10);
    expect(writes.filter((w) => w.kind === 'doc').length).toBeGreaterThan(10);

    // Reads without a consistency token are eventually consistent (replica lag); a lost write never shows up.
    const missing = await waitFor('every acknowledged write readable', 60_000, async () => {
      const gone: AckedWrite[] = [];
      for (const w of writes) if (!(await readable(w))) gone.push(w);
      return gone.length === 0 ? gone : undefined;
    }, 1000);
    expect(missing).toEqual([]);

    const after = cli(['status']);
    expect(after).toMatch(/^ {2}shard-a -40$/m);
    // Adjacent ranges of one shard are one range in the map.
    expect(after).toMatch(/^ {2}shard-b 40-$/m);
  });
});
