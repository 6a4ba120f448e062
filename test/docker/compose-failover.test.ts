/**
 * `tessera shard failover` on the compose stack, run as an operator would
 * (`docker compose run --rm cli shard …`), under create, PATCH and
 * document-PUT load through the stack's NGINX with a ledger of every
 * acknowledged write, read back through the API afterwards.
 *
 * Shard-a's roles go round once, so the file leaves them as it found them
 * (the other Docker suites expect shard-a to be the primary): a planned
 * failover makes shard-a-replica the primary and shard-a its replica; then
 * shard-a-replica's container is killed and an emergency failover promotes
 * shard-a again, and the killed container, started again, comes back as its
 * replica.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { startLedgerLoad, type Ledger } from '../support/ledger.js';
import { authHeaders } from './support/auth.js';
import { call } from './support/http.js';
import { cli, cliRun, compose, composeContext, containersOf, docker, psqlIn, waitFor, waitHealthy, type RunResult } from './support/compose.js';

let base: string;
let headers: Record<string, string>;
/** The stack's database password: no command's output may show it. */
let dbPassword: string;

interface History {
  primary: string;
  replicas: string[];
  epoch: number;
  state: string;
  failovers: { kind: string; phase: string; epochBefore: number; epochAfter: number | null; detail: Record<string, unknown>; oldPrimaryUrl: string; newPrimaryUrl: string }[];
}

const hostOf = (url: string) => new URL(url).hostname;

function history(): History {
  return JSON.parse(cli(['shard', 'history', 'shard-a', '--json'])) as History;
}

/** The command's outcome, logged when it failed (its output is the diagnosis), never with the password. */
function expectRun(r: RunResult, code: 'ok' | 'fails'): void {
  if ((r.code === 0) !== (code === 'ok')) console.error(`exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  if (code === 'ok') expect(r.code).toBe(0);
  else expect(r.code).not.toBe(0);
  expect(`${r.stdout}${r.stderr}`).not.toContain(dbPassword);
}

/** Users created through the API until `perShard` of them live on each shard. */
async function usersOnEveryShard(perShard: number): Promise<{ id: string; shard: string }[]> {
  const out: { id: string; shard: string }[] = [];
  const count = (s: string) => out.filter((u) => u.shard === s).length;
  while (count('shard-a') < perShard || count('shard-b') < perShard) {
    const r = await call<{ id: string }>('POST', '/v1/users', { base, body: { email: `fo-${Math.random().toString(36).slice(2)}@example.com`, name: 'n0' } });
    expect(r.status).toBe(201);
    const shard = r.headers.get('x-tessera-shard')!;
    if (count(shard) < perShard) out.push({ id: r.body.id, shard });
  }
  return out;
}

/** Fails at once with the command's output (waiting for writes after a failover that did not finish would only time out). */
function mustSucceed(r: RunResult, what: string): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
}

/** Acknowledged writes to `shard` completed after `since`. */
const writesSince = (ledger: Ledger, shard: string, since: number) => (ledger.writeTimes.get(shard) ?? []).filter((t) => t > since).length;

/**
 * Every acknowledged write of the ledger, read through the API: each created
 * user exists, each patched name and PUT document holds the last acknowledged
 * value (a later one only where a write failed: it may have committed all the
 * same). Reads may come from a replica a moment behind, so this retries,
 * bounded; a lost write never shows up.
 */
async function expectNothingLost(ledger: Ledger): Promise<void> {
  const failed = new Set(ledger.failures.map((f) => f.op.split(' ')[1]));
  const lost = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const [id, { email }] of ledger.created) {
      const r = await call<{ email: string }>('GET', `/v1/users/${id}`, { base });
      if (r.status !== 200 || r.body.email !== email) out.push(`create ${id}: ${r.status}`);
    }
    for (const [id, acked] of ledger.names) {
      const r = await call<{ name: string }>('GET', `/v1/users/${id}`, { base });
      const stored = r.status === 200 ? Number(r.body.name.slice(1)) : -1;
      if (stored < Number(acked.slice(1)) || (!failed.has(id) && stored !== Number(acked.slice(1)))) out.push(`PATCH ${id}: acknowledged ${acked}, read n${stored}`);
    }
    for (const [id, acked] of ledger.docs) {
      const r = await call<{ value: { n: number } }>('GET', `/v1/users/${id}/data/ledger`, { base });
      const stored = r.status === 200 ? r.body.value.n : -1;
      if (stored < acked.n || (!failed.has(id) && stored !== acked.n)) out.push(`PUT ${id}: acknowledged n${acked.n}, read n${stored}`);
    }
    return out;
  };
  await waitFor('every acknowledged write readable', 60_000, async () => {
    const missing = await lost();
    if (missing.length > 0) throw new Error(missing.slice(0, 10).join('; '));
    return true;
  }, 1000);
}

/** `application_name|state|sync_state` of the standbys streaming from `service`. */
const streamingFrom = (service: string) => psqlIn(service, "SELECT application_name || '|' || state || '|' || sync_state FROM pg_stat_replication ORDER BY 1");

/**
 * Waits (bounded) until `service`'s standbys are `expected`: a walsender
 * shows a standby as synchronous once it has handled the reload the CLI
 * asked for, a moment after the CLI exits.
 */
async function expectStreaming(service: string, expected: string[]): Promise<void> {
  const seen = await waitFor(`standbys of ${service}: ${expected.join(', ')}`, 10_000, () => {
    const now = streamingFrom(service);
    return now.join() === expected.join() ? now : undefined;
  }, 100).catch(() => streamingFrom(service));
  expect(seen).toEqual(expected);
}
const inRecovery = (service: string) => psqlIn(service, 'SELECT pg_is_in_recovery()')[0];
const syncNames = (service: string) => psqlIn(service, 'SHOW synchronous_standby_names')[0];

beforeAll(async () => {
  base = composeContext().baseUrl;
  headers = await authHeaders();
  dbPassword = /^TESSERA_DB_PASSWORD=(.+)$/m.exec(readFileSync(composeContext().envFile, 'utf8'))![1]!;
  await waitHealthy('app', composeContext().apps);
});

describe('tessera shard failover on the compose stack', () => {
  it('applies each shard\'s durability on up, and refuses bad input with a clear message and a failing exit code, changing nothing', async () => {
    // `migrate` (every `up`) made each primary's commits wait for its replica, which streams under its service name.
    for (const shard of ['shard-a', 'shard-b']) {
      const slot = `${shard.replace('-', '_')}_replica`;
      expect(syncNames(shard)).toBe(`ANY 1 ("${slot}")`);
      await expectStreaming(shard, [`${slot}|streaming|quorum`]);
    }
    const before = history();
    expect(hostOf(before.primary)).toBe('shard-a');
    expect(before.failovers).toEqual([]);
    const [unknown, noSuchReplica, alive, badMode] = await Promise.all([
      cliRun(['shard', 'failover', 'shard-z']),
      cliRun(['shard', 'failover', 'shard-a', '--to', 'shard-a-replica-9']),
      cliRun(['shard', 'failover', 'shard-a', '--emergency']),
      cliRun(['shard', 'durability', 'shard-a', 'sometimes']),
    ]);
    expectRun(unknown, 'fails');
    expect(unknown.stderr).toContain('no shard shard-z in the catalog (shards: shard-a, shard-b)');
    expectRun(noSuchReplica, 'fails');
    expect(noSuchReplica.stderr).toContain('shard-a has no replica named shard-a-replica-9 (its replicas: shard-a-replica)');
    expectRun(alive, 'fails');
    expect(alive.stderr).toContain("shard-a's primary shard-a still answers");
    expectRun(badMode, 'fails');
    expect(badMode.stderr).toContain('durability must be sync or async, got "sometimes"');
    expect(history()).toEqual(before);
  });

  it('planned: under create, PATCH and document-PUT load through NGINX, no request fails, every acknowledged write stays, and the old primary streams from the new one', async () => {
    const users = await usersOnEveryShard(3);
    const load = startLedgerLoad({ base, headers, users });
    let run: RunResult;
    let done = 0;
    try {
      await waitFor('100 acknowledged writes before the failover', 60_000, () => (load.ledger.ok >= 100 ? true : undefined), 50);
      run = await cliRun(['shard', 'failover', 'shard-a']);
      done = Date.now();
      mustSucceed(run, 'shard failover shard-a');
      await waitFor('100 writes to shard-a after the failover', 60_000, () => (writesSince(load.ledger, 'shard-a', done) >= 100 ? true : undefined), 50);
    } finally {
      await load.stop();
    }
    const ledger = load.ledger;
    expectRun(run, 'ok');
    expect(run.stdout).toMatch(/^shard-a: planned failover #\d+ done: primary postgres:\/\/tessera:\*\*\*@shard-a-replica:5432\/tessera, epoch 2; writes paused \d+ ms$/m);
    expect(ledger.failures).toEqual([]);
    expect(ledger.readFailures).toEqual([]);
    await expectNothingLost(ledger);

    const after = history();
    expect(hostOf(after.primary)).toBe('shard-a-replica');
    expect(after.replicas.map(hostOf)).toEqual(['shard-a']);
    expect(after).toMatchObject({ epoch: 2, state: 'serving' });
    expect(after.failovers).toHaveLength(1);
    const [record] = after.failovers;
    expect(record).toMatchObject({ kind: 'planned', phase: 'done', epochBefore: 1, epochAfter: 2, detail: { oldPrimaryRejoined: 'followed' } });
    expect(typeof record!.detail.writePauseMs).toBe('number');
    const phases = ['catchup', 'promote', 'repoint', 'publish'].map((p) => `${p} ${String(record!.detail[`${p}Ms`])}`).join(', ');
    console.error(`[docker] planned failover: write pause ${String(record!.detail.writePauseMs)} ms as recorded (ms per phase: ${phases}); longest gap a client saw on shard-a ${ledger.longestGapMs('shard-a')} ms`);
    // The old primary is a standby of the new one, its synchronous standby.
    expect(inRecovery('shard-a')).toBe('t');
    expect(inRecovery('shard-a-replica')).toBe('f');
    await expectStreaming('shard-a-replica', ['shard_a|streaming|quorum']);
    expect(syncNames('shard-a-replica')).toBe('ANY 1 ("shard_a")');
    // Its entrypoint, restarted by the restart policy after the stop, made it so.
    expect(compose(['logs', '--no-color', 'shard-a'])).toMatch(/the catalog names shard-a-replica the primary of shard-a: this old primary becomes its standby/);
    const text = await cliRun(['shard', 'history', 'shard-a']);
    expectRun(text, 'ok');
    expect(text.stdout).toMatch(/^#\d+ [\d-]+ [\d:]+ planned: postgres:\/\/tessera:\*\*\*@shard-a:5432\/tessera → postgres:\/\/tessera:\*\*\*@shard-a-replica:5432\/tessera, epoch 1 → 2, done, writes paused \d+ ms$/m);
  });

  it('emergency, synchronous: the primary\'s container killed under write load, no acknowledged write is lost, the other shard never fails, reads never fail, writes recover once a replica is promoted; the killed primary, started again, takes no write and rejoins as a replica', async () => {
    expect(syncNames('shard-a-replica')).toBe('ANY 1 ("shard_a")');
    const users = await usersOnEveryShard(3);
    const load = startLedgerLoad({ base, headers, users });
    const [victim] = containersOf('shard-a-replica');
    let run: RunResult;
    let promoted = 0;
    try {
      await waitFor('100 acknowledged writes before the kill', 60_000, () => (load.ledger.ok >= 100 ? true : undefined), 50);
      docker(['kill', victim!]);
      // A killed container counts as stopped by hand: its restart policy leaves it down, as a dead host would.
      expect(docker(['inspect', '--format', '{{.State.Status}}', victim!]).trim()).toBe('exited');
      await waitFor('a write to shard-a failing', 30_000, () => (load.ledger.failures.some((f) => f.shard === 'shard-a') ? true : undefined), 50);
      run = await cliRun(['shard', 'failover', 'shard-a', '--emergency']);
      promoted = Date.now();
      mustSucceed(run, 'shard failover shard-a --emergency');
      await waitFor('50 writes to shard-a after the promotion', 60_000, () => (writesSince(load.ledger, 'shard-a', promoted) >= 50 ? true : undefined), 50);
    } finally {
      await load.stop();
    }
    const ledger = load.ledger;
    expectRun(run, 'ok');
    expect(run.stdout).toMatch(/^shard-a: emergency failover #\d+ done: primary postgres:\/\/tessera:\*\*\*@shard-a:5432\/tessera, epoch 3$/m);
    expect(run.stdout).toContain('docker compose run --rm cli shard rejoin shard-a');
    // Only shard-a's writes failed, with 503 naming it; shard-b's never did, and no read failed.
    expect(ledger.failures.length).toBeGreaterThan(0);
    for (const f of ledger.failures) expect(f, JSON.stringify(f)).toMatchObject({ status: 503, shard: 'shard-a' });
    expect(ledger.readFailures).toEqual([]);
    expect(writesSince(ledger, 'shard-b', 0)).toBeGreaterThan(0);
    await expectNothingLost(ledger);
    const after = history();
    expect(hostOf(after.primary)).toBe('shard-a');
    expect(after).toMatchObject({ epoch: 3, state: 'serving', replicas: [] });
    expect(after.failovers.at(-1)).toMatchObject({ kind: 'emergency', phase: 'done', epochBefore: 2, epochAfter: 3 });

    // The old primary comes back: its entrypoint asks the catalog and starts it as a standby of shard-a.
    docker(['start', victim!]);
    await waitHealthy('shard-a-replica', 1);
    expect(inRecovery('shard-a-replica')).toBe('t');
    expect(compose(['logs', '--no-color', 'shard-a-replica'])).toMatch(/the catalog names shard-a the primary of shard-a: this old primary becomes its standby/);
    // Whoever still connects to it (a stale app's pool) cannot write there.
    expect(() => psqlIn('shard-a-replica', "UPDATE users SET name = 'stale' WHERE true")).toThrow(/read-only transaction/);

    const rejoin = await cliRun(['shard', 'rejoin', 'shard-a']);
    expectRun(rejoin, 'ok');
    expect(rejoin.stdout).toMatch(/^shard-a: shard-a-replica (follows|rebuilt from) shard-a and serves reads again$/m);
    await expectStreaming('shard-a', ['shard_a_replica|streaming|quorum']);
    expect(syncNames('shard-a')).toBe('ANY 1 ("shard_a_replica")');
    const rejoined = history();
    expect(rejoined.replicas.map(hostOf)).toEqual(['shard-a-replica']);
    // Writes commit again, synchronously with the rejoined replica.
    const user = users.find((u) => u.shard === 'shard-a')!;
    expect((await call('PATCH', `/v1/users/${user.id}`, { base, body: { name: 'after rejoin' } })).status).toBe(200);
    const text = await cliRun(['shard', 'history', 'shard-a']);
    expectRun(text, 'ok');
    expect(text.stdout).toMatch(/^shard-a: primary postgres:\/\/tessera:\*\*\*@shard-a:5432\/tessera, epoch 3, serving, sync$/m);
    expect(text.stdout).toMatch(/ emergency: .*@shard-a-replica:5432\/tessera → .*@shard-a:5432\/tessera, epoch 2 → 3, done$/m);
  });
});
