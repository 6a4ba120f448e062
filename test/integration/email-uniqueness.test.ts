import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { ksidToSql } from '../../src/routing/keyrange.js';
import { normalizeEmail } from '../../src/routing/strategies/hash.js';
import { call, createUser, uniqueEmail } from '../support/http.js';
import { inProcess } from '../support/runtime.js';
import { testStack, withDb } from '../support/stack.js';

/** Users (on any shard) whose email is `email`, case-insensitively. */
async function holders(email: string): Promise<string[]> {
  const ids: string[] = [];
  for (const shard of testStack().shards) {
    const res = await withDb(shard.primary.url, (c) => c.query<{ id: string }>('SELECT id FROM users WHERE lower(email) = $1', [normalizeEmail(email)]));
    ids.push(...res.rows.map((r) => r.id));
  }
  return ids;
}

describe('global email uniqueness', () => {
  let svc: Awaited<ReturnType<typeof inProcess>>;
  beforeAll(async () => {
    svc = await inProcess(testStack().catalog.url);
  });
  afterAll(async () => {
    await svc.close();
  });

  it('200 concurrent creates with one email: exactly one 201 and 199 409s', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => call('POST', '/v1/users', { body: { email: i % 2 ? email : email.toUpperCase(), name: `racer-${i}` } })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(199);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.code).toBe('TESSERA_ERR_EMAIL_TAKEN');
    expect(await holders(email)).toEqual([results.find((r) => r.status === 201)!.body.id]);
  });

  it('150 concurrent creates with distinct emails through one app all succeed (claims never starve the pool)', async () => {
    const app = testStack().apps[0]!;
    const results = await Promise.all(Array.from({ length: 150 }, () => call('POST', '/v1/users', { base: app.url, body: { email: uniqueEmail('burst'), name: 'Burst' } })));
    expect(results.map((r) => r.status).filter((s) => s !== 201)).toEqual([]);
  });

  it('a stale claim (its user never written) is reclaimed by the next create', async () => {
    const email = uniqueEmail('stale');
    const ghost = uuidv7();
    const ksid = svc.router.emailKsid(email);
    await svc.db.onPrimary(ksid, ({ client }) =>
      client.query('INSERT INTO email_lookup (ksid, email, user_id) VALUES ($1, $2, $3)', [ksidToSql(ksid), normalizeEmail(email), ghost]),
    );
    expect((await call('GET', `/v1/users/by-email/${email}`)).status).toBe(404);
    const created = await createUser({ email });
    expect((await call('GET', `/v1/users/by-email/${email}`)).body.id).toBe(created.body.id);
    expect(await holders(email)).toEqual([created.body.id]);
  });

  it('a claim whose user moved to another email is stale too', async () => {
    const email = uniqueEmail('moved');
    const { body: user } = await createUser({ email: uniqueEmail('elsewhere') });
    const ksid = svc.router.emailKsid(email);
    await svc.db.onPrimary(ksid, ({ client }) =>
      client.query('INSERT INTO email_lookup (ksid, email, user_id) VALUES ($1, $2, $3)', [ksidToSql(ksid), normalizeEmail(email), user.id]),
    );
    expect((await call('POST', '/v1/users', { body: { email, name: 'Taker' } })).status).toBe(201);
  });

  it('when the user write fails after the claim, the claim is withdrawn and the email stays free', async () => {
    const email = uniqueEmail('failed');
    await expect(svc.emails.claim(email, uuidv7(), () => Promise.reject(new Error('injected failure after the claim')))).rejects.toThrow('injected');
    expect(await svc.emails.lookup(email)).toBeUndefined();
    expect((await call('POST', '/v1/users', { body: { email, name: 'After failure' } })).status).toBe(201);
  });

  it('a process killed between the claim and the user write never lets two users hold the email', async () => {
    const email = uniqueEmail('crash');
    const ghost = uuidv7();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/claim-and-die.ts', testStack().catalog.url, email, ghost], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    expect(chunk.toString()).toContain('claimed');

    // While the dying process holds the claim, a create waits for it rather than taking over.
    const contender = call('POST', '/v1/users', { body: { email, name: 'Contender' } });
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await once(child, 'exit');

    const res = await contender;
    // Its connection died with it: the lock went, the claim is stale, the contender takes it.
    expect(res.status).toBe(201);
    expect(await holders(email)).toEqual([res.body.id]);
    expect((await call('GET', `/v1/users/by-email/${email}`)).body.id).toBe(res.body.id);
  });

  it('a create killed inside its one transaction leaves neither a claim nor a user, and a waiting create then succeeds', async () => {
    const email = uniqueEmail('crash-tx');
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/claim-and-die.ts', testStack().catalog.url, email, uuidv7(), 'together'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    expect(chunk.toString()).toContain('claimed');
    // The contender's claim waits on the uncommitted one (the unique index), neither failing nor overtaking it.
    const contender = call('POST', '/v1/users', { body: { email, name: 'Contender' } });
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await once(child, 'exit');
    const res = await contender;
    expect(res.status).toBe(201);
    expect(await holders(email)).toEqual([res.body.id]);
    expect(await svc.emails.lookup(email)).toBe(res.body.id);
  });

  it('with the hash strategy a create commits once: the user lands on the shard of its email\'s claim', async () => {
    for (let i = 0; i < 20; i++) {
      const email = uniqueEmail('colocated');
      const { body: user, headers } = await createUser({ email });
      const claimShard = svc.db.ownerOf(svc.router.emailKsid(normalizeEmail(email)));
      expect(headers.get('x-tessera-shard')).toBe(claimShard);
      expect(svc.db.ownerOf(svc.router.userKsid(user.id))).toBe(claimShard);
      expect(await svc.emails.lookup(email)).toBe(user.id);
    }
  });
});
