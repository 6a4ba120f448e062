/**
 * A shard survives losing its primary: `tessera shard failover`, planned and
 * emergency, on a local stack of its own (2 shards, each a primary and a
 * synchronous streaming replica, 2 apps behind NGINX), under load through
 * NGINX with a ledger of every acknowledged write, checked afterwards on the
 * shards' current primaries.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogStore } from '../../src/catalog/store.js';
import { down, pgContextFor, readStack, startInstance, up, withClient, type StackInfo } from '../../src/cluster/index.js';
import { ShardPools } from '../../src/db/pools.js';
import { TesseraError } from '../../src/errors/catalog.js';
import { FailoverHistory } from '../../src/failover/history.js';
import { isInRecoveryAt, streamingOn } from '../support/failover.js';
import { serviceAuthHeaders } from '../support/auth.js';
import { startLedgerLoad, type Ledger } from '../support/ledger.js';
import { testPorts } from '../support/ports.js';

const DIR = resolve('.tessera-test/failover');
let stack: StackInfo;
let catalog: CatalogStore;
let auth: Record<string, string>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  stack = (await up({
    dir: DIR, shards: 2, replicas: 1, apps: 2, strategy: 'hash', ...testPorts({ port: 18600, pgBasePort: 26300, redisPort: 16900, appBasePort: 13700 }),
    // One token for the whole load: far from its per-caller limit on purpose.
    appEnv: { TESSERA_LOG_LEVEL: 'warn', TESSERA_RATE_LIMIT: '1000000', TESSERA_MAP_POLL_MS: '1000' },
    log: () => undefined,
  })).stack;
  catalog = new CatalogStore(stack.catalog.url);
  auth = await serviceAuthHeaders(DIR);
});

afterAll(async () => {
  await catalog?.close();
  // TESSERA_TEST_KEEP=1 keeps the stack (and its logs) for a look after a run.
  if (process.env.TESSERA_TEST_KEEP !== '1') await down({ dir: DIR, purge: true, log: () => undefined });
});

interface CliResult { code: number | null; stdout: string; stderr: string }

function spawnCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['bin/tessera.mjs', 'shard', ...args, '--dir', DIR], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, done: new Promise((res) => child.on('exit', (code) => res({ code, stdout, stderr }))) };
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await spawnCli(args, env).done;
  if (r.code !== 0) console.error(`tessera shard ${args.join(' ')} → ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.nginx.url}${path}`, { method, headers: { ...auth, ...(body !== undefined && { 'content-type': 'application/json' }) }, ...(body !== undefined && { body: JSON.stringify(body) }) });
  return { status: res.status, shard: res.headers.get('x-tessera-shard'), body: (await res.json().catch(() => undefined)) as any };
}

/** Users created through the API until `perShard` of them live on each shard. */
async function usersOnEveryShard(perShard: number): Promise<{ id: string; shard: string }[]> {
  const out: { id: string; shard: string }[] = [];
  const count = (s: string) => out.filter((u) => u.shard === s).length;
  while (stack.shards.some((s) => count(s.name) < perShard)) {
    const r = await api('POST', '/v1/users', { email: `fo-${Math.random().toString(36).slice(2)}@example.com`, name: 'n0' });
    expect(r.status).toBe(201);
    if (count(r.shard!) < perShard) out.push({ id: r.body.id, shard: r.shard! });
  }
  return out;
}

/** Every acknowledged write of the ledger, read on the shards' current primaries: nothing older than acknowledged. */
async function expectNothingLost(ledger: Ledger): Promise<void> {
  const primaries = new Map((await catalog.shards()).map((s) => [s.name, s.primaryUrl]));
  const failedUsers = new Set(ledger.failures.map((f) => f.op.split(' ')[1]));
  const lost: string[] = [];
  for (const [name, url] of primaries) {
    await withClient(url, async (c) => {
      const created = [...ledger.created].filter(([, v]) => v.shard === name).map(([id]) => id);
      if (created.length > 0) {
        const { rows } = await c.query<{ id: string }>('SELECT id FROM users WHERE id = ANY($1::uuid[])', [created]);
        const found = new Set(rows.map((r) => r.id));
        for (const id of created) if (!found.has(id)) lost.push(`create ${id}`);
      }
      for (const [id, acked] of ledger.names) {
        const { rows } = await c.query<{ name: string }>('SELECT name FROM users WHERE id = $1', [id]);
        if (rows.length === 0) continue; // another shard's user
        const stored = Number(rows[0]!.name.slice(1));
        // A write that failed may have committed all the same: stored may be later, never earlier.
        if (stored < Number(acked.slice(1)) || (!failedUsers.has(id) && stored !== Number(acked.slice(1)))) lost.push(`PATCH ${id}: acknowledged ${acked}, stored n${stored}`);
      }
      for (const [id, acked] of ledger.docs) {
        const { rows } = await c.query<{ n: number }>("SELECT (value->>'n')::int AS n FROM documents WHERE user_id = $1 AND key = 'ledger'", [id]);
        const owner = await c.query('SELECT 1 FROM users WHERE id = $1', [id]);
        if (owner.rowCount === 0) continue;
        const stored = rows[0]?.n ?? -1;
        if (stored < acked.n || (!failedUsers.has(id) && stored !== acked.n)) lost.push(`PUT ${id}: acknowledged n${acked.n}, stored n${stored}`);
      }
    }, 30_000);
  }
  expect(lost).toEqual([]);
}

async function history(shard: string) {
  return new FailoverHistory(catalog.pool).list(shard);
}

describe('tessera shard failover', () => {
  it('refuses bad input with a clear message and a failing exit code, changing nothing', async () => {
    const before = await catalog.shards();
    const unknown = await cli(['failover', 'shard-z']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('no shard shard-z in the catalog (shards: shard-a, shard-b)');
    const noSuchReplica = await cli(['failover', 'shard-a', '--to', 'shard-a-replica-9']);
    expect(noSuchReplica.code).not.toBe(0);
    expect(noSuchReplica.stderr).toContain('shard-a has no replica named shard-a-replica-9 (its replicas: shard-a-replica-1)');
    const alive = await cli(['failover', 'shard-a', '--emergency']);
    expect(alive.code).not.toBe(0);
    expect(alive.stderr).toContain("shard-a's primary shard-a-primary still answers");

    // A replica that lags past the limit is not promoted without --force.
    const replica = readStack(DIR).shards[0]!.replicas[0]!;
    await withClient(replica.url, (c) => c.query('SELECT pg_wal_replay_pause()'));
    try {
      await withClient(readStack(DIR).shards[0]!.primary.url, (c) => c.query("CREATE TABLE IF NOT EXISTS failover_pad AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 3000)"));
      const lagging = await cli(['failover', 'shard-a', '--to', 'shard-a-replica-1', '--max-lag', '1MiB']);
      expect(lagging.code).not.toBe(0);
      expect(lagging.stderr).toMatch(/shard-a-replica-1 should not be promoted: it is [\d.]+ MiB behind \(limit 1\.0 MiB\); pass --force/);
    } finally {
      await withClient(replica.url, (c) => c.query('SELECT pg_wal_replay_resume()'));
    }

    // A shard without a replica.
    const added = spawn(process.execPath, ['bin/tessera.mjs', 'shard', 'add', '--replicas', '0', '--dir', DIR], { stdio: 'ignore' });
    expect(await new Promise((r) => added.on('exit', r))).toBe(0);
    const noReplica = await cli(['failover', 'shard-c']);
    expect(noReplica.code).not.toBe(0);
    expect(noReplica.stderr).toContain('shard-c has no replica to promote');

    const after = await catalog.shards();
    expect(after.filter((s) => s.name !== 'shard-c')).toEqual(before);
    expect([...(await history('shard-a')), ...(await history('shard-c'))]).toEqual([]);
  });

  it('planned: under create, PATCH and document-PUT load through NGINX, no request fails, every acknowledged write stays, and the old primary streams from the new one', async () => {
    const users = await usersOnEveryShard(3);
    const load = startLedgerLoad({ base: stack.nginx.url, headers: auth, users });
    await sleep(1500);
    const run = await cli(['failover', 'shard-a']);
    await sleep(1500);
    const ledger = await load.stop();
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/shard-a: planned failover #\d+ done: primary \S+, epoch 2; writes paused \d+ ms/);
    expect(ledger.failures).toEqual([]);
    expect(ledger.readFailures).toEqual([]);
    expect(ledger.ok).toBeGreaterThan(100);
    await expectNothingLost(ledger);

    const [record] = await history('shard-a');
    expect(record).toMatchObject({ kind: 'planned', phase: 'done', epochBefore: 1, epochAfter: 2 });
    expect(typeof record!.detail.writePauseMs).toBe('number');
    console.error(`[failover] planned: write pause ${String(record!.detail.writePauseMs)} ms as recorded; longest gap a client saw on shard-a ${ledger.longestGapMs('shard-a')} ms`);
    const shard = readStack(DIR).shards[0]!;
    expect(shard.primary.name).toBe('shard-a-replica-1');
    expect(shard.replicas.map((r) => r.name)).toEqual(['shard-a-primary']);
    expect(await isInRecoveryAt(shard.replicas[0]!.url)).toBe(true);
    expect(await streamingOn(shard.primary.url)).toEqual(['shard_a_primary']);
    const ep = (await catalog.shard('shard-a'))!;
    expect(ep).toMatchObject({ primaryUrl: shard.primary.url, replicaUrls: [shard.replicas[0]!.url], epoch: 2, state: 'serving' });
  });

  it('a CLI killed (SIGKILL) in the middle of a failover is finished by running it again; nothing acknowledged is lost', async () => {
    const users = (await usersOnEveryShard(2)).filter((u) => u.shard === 'shard-b');
    const load = startLedgerLoad({ base: stack.nginx.url, headers: auth, users, creators: 1 });
    const first = spawnCli(['failover', 'shard-b'], { TESSERA_FAILOVER_STEP_DELAY_MS: '800' });
    // Killed once the old primary is stopped and before the replica is promoted: the worst moment.
    let phase: string | undefined;
    for (let i = 0; i < 300 && phase !== 'promote'; i++) {
      await sleep(25);
      phase = (await history('shard-b')).at(-1)?.phase;
    }
    expect(phase).toBe('promote');
    first.child.kill('SIGKILL');
    await first.done;
    expect((await catalog.shard('shard-b'))!.state).toBe('switching');
    const again = await cli(['failover', 'shard-b']);
    await sleep(1000);
    const ledger = await load.stop();
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/resuming failover #\d+ of shard-b \(planned\) at phase promote: shard-b-primary → shard-b-replica-1/);
    expect(again.stdout).toMatch(/shard-b: planned failover #\d+ finished/);
    expect((await history('shard-b')).at(-1)).toMatchObject({ phase: 'done', epochAfter: 2 });
    // Writes that waited longer than the apps wait for a new primary (5 s) got a 503 naming shard-b; none was lost.
    for (const f of ledger.failures) expect(f, JSON.stringify(f)).toMatchObject({ status: 503, shard: 'shard-b' });
    expect(ledger.readFailures).toEqual([]);
    await expectNothingLost(ledger);
    expect(await streamingOn(readStack(DIR).shards[1]!.primary.url)).toEqual(['shard_b_primary']);
  });

  it('emergency, synchronous: after SIGKILL of a primary under write load, no acknowledged write is lost, the other shard never fails, reads never fail, and writes recover once a replica is promoted', async () => {
    const users = await usersOnEveryShard(3);
    const load = startLedgerLoad({ base: stack.nginx.url, headers: auth, users });
    await sleep(1000);
    const victim = readStack(DIR).shards[0]!.primary; // shard-a-replica-1 since the planned failover
    process.kill(Number((await import('node:fs')).readFileSync(`${victim.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]), 'SIGKILL');
    await sleep(1000);
    const run = await cli(['failover', 'shard-a', '--emergency']);
    const promotedAt = Date.now();
    await sleep(2000);
    const ledger = await load.stop();
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('shard-a: emergency failover');
    expect(run.stdout).toContain('npx tessera shard rejoin shard-a');
    // Only shard-a's writes failed, with 503 and Retry-After's shard named; shard-b's never did.
    expect(ledger.failures.length).toBeGreaterThan(0);
    for (const f of ledger.failures) expect(f, JSON.stringify(f)).toMatchObject({ status: 503, shard: 'shard-a' });
    expect(ledger.readFailures).toEqual([]);
    expect((ledger.writeTimes.get('shard-a') ?? []).some((t) => t > promotedAt)).toBe(true);
    await expectNothingLost(ledger);
    const ep = (await catalog.shard('shard-a'))!;
    expect(ep).toMatchObject({ epoch: 3, state: 'serving', replicaUrls: [] });
    expect(readStack(DIR).shards[0]!.replicas.find((r) => r.name === victim.name)?.pendingRejoin).toBe(true);
  });

  it('the killed old primary, started again, takes no write (not even from a stale app still pointed at it) and rejoins as a replica', async () => {
    const s = readStack(DIR).shards[0]!;
    const old = s.replicas.find((r) => r.pendingRejoin)!;
    await startInstance(await pgContextFor(readStack(DIR)), old);
    expect(await isInRecoveryAt(old.url)).toBe(true);
    // An app that missed the failover: its pool still names the old primary.
    const stale = new ShardPools({ size: 1, timeoutMs: 2000, applicationName: 'stale-app', maxReplicaLagMs: 1000, replicaPollMs: 60_000 }, pino({ level: 'silent' }));
    stale.sync([{ name: 'shard-a', primaryUrl: old.url, replicaUrls: [] }]);
    try {
      const write = stale.tx('shard-a', (c) => c.query("UPDATE users SET name = 'stale' WHERE true"));
      await expect(write).rejects.toBeInstanceOf(TesseraError);
      await expect(write).rejects.toMatchObject({ code: 'TESSERA_ERR_SHARD_UNAVAILABLE' });
    } finally {
      await stale.close();
    }
    const rejoin = await cli(['rejoin', 'shard-a']);
    expect(rejoin.code).toBe(0);
    // It follows the new primary's timeline when it never got ahead of it (synchronous commits
    // make that likely), else it is rebuilt from a copy; either way it streams.
    expect(rejoin.stdout).toMatch(new RegExp(`shard-a: ${old.name} (rebuilt from|follows) ${s.primary.name} and serves reads again`));
    expect(await streamingOn(s.primary.url)).toEqual([old.slot]);
    expect((await catalog.shard('shard-a'))!.replicaUrls).toEqual([old.url]);
    expect(readStack(DIR).shards[0]!.replicas.some((r) => r.pendingRejoin)).toBe(false);
    // Writes commit again, synchronously with the rejoined replica.
    const users = await usersOnEveryShard(1);
    expect((await api('PATCH', `/v1/users/${users.find((u) => u.shard === 'shard-a')!.id}`, { name: 'after rejoin' })).status).toBe(200);
    const hist = await cli(['history', 'shard-a']);
    expect(hist.stdout).toMatch(/#\d+ .* planned: .* epoch 1 → 2, done, writes paused \d+ ms/);
    expect(hist.stdout).toMatch(/#\d+ .* emergency: .* epoch 2 → 3, done/);
  });
});
