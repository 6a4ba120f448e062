// Online resharding against a real local stack of its own (2 hash shards, no
// replicas, 2 apps behind NGINX), so it can move ranges freely. A steady
// writer and readers go through NGINX while ranges move; afterwards every
// acknowledged write must sit exactly once on the shard the new map names.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogStore } from '../../src/catalog/store.js';
import { addShard } from '../../src/cluster/shard-add.js';
import { down, up, type StackInfo } from '../../src/cluster/index.js';
import { ksidFromSql, parseKeyRange, rangeContains } from '../../src/routing/keyrange.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { buildPlan, ReshardInputError, WorkflowStore, type PlanRequest, type Workflow } from '../../src/reshard/index.js';
import { testPorts } from '../support/ports.js';
import { serviceAuthHeaders } from '../support/auth.js';

const dir = resolve('.tessera-test/reshard');
let stack: StackInfo;
let catalog: CatalogStore;
let workflows: WorkflowStore;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the CLI

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function spawnCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['bin/tessera.mjs', 'reshard', ...args, '--catalog', stack.catalog.url], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((res) => child.on('exit', (code, signal) => res({ code, signal, stdout, stderr })));
  return { child, done };
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await spawnCli(args, env).done;
  if (r.code !== 0) console.error(`tessera reshard ${args.join(' ')} → ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

async function newestWorkflow(): Promise<Workflow> {
  return (await workflows.list())[0] as Workflow;
}

// --------------------------------------------------------------- the load

interface UserModel {
  email: string;
  name: string;
  docs: Map<string, unknown>;
  /** Never deleted: readers may expect it. */
  permanent: boolean;
}

/** What the clients were told: acknowledged state, failures and errors. */
class Model {
  users = new Map<string, UserModel>();
  deletedUsers = new Set<string>();
  deletedDocs: { user: string; key: string }[] = [];
  failedWrites: { op: string; status: number; body: string }[] = [];
  readErrors: { status: number; body: string }[] = [];
  writes = 0;
  reads = 0;
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${stack.nginx.url}${path}`, {
    method,
    headers: { ...(await serviceAuthHeaders(stack.dir)), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, text };
}

async function createUser(model: Model, permanent: boolean): Promise<string | undefined> {
  const email = `rs-${randomUUID().slice(0, 13)}@example.com`;
  const name = `user ${model.writes}`;
  const r = await api('POST', '/v1/users', { email, name }).catch((e: Error) => ({ status: 0, body: undefined, text: e.message }));
  model.writes++;
  if (r.status !== 201) {
    model.failedWrites.push({ op: `create ${email}`, status: r.status, body: r.text });
    return undefined;
  }
  model.users.set(r.body.id as string, { email, name, docs: new Map(), permanent });
  return r.body.id as string;
}

async function putDoc(model: Model, id: string, key: string, value: unknown): Promise<void> {
  const r = await api('PUT', `/v1/users/${id}/data/${key}`, value).catch((e: Error) => ({ status: 0, body: undefined, text: e.message }));
  model.writes++;
  if (r.status !== 200 && r.status !== 201) model.failedWrites.push({ op: `put ${id}/${key}`, status: r.status, body: r.text });
  else model.users.get(id)?.docs.set(key, value);
}

/** One random write; sequential, so the model is exactly what was acknowledged. */
async function oneWrite(model: Model, i: number): Promise<void> {
  const ids = [...model.users.keys()];
  const pick = () => ids[Math.floor(Math.random() * ids.length)] as string;
  const op = i % 10;
  if (op < 3 || ids.length < 10) {
    await createUser(model, i % 4 === 0);
  } else if (op < 6) {
    await putDoc(model, pick(), `k${i % 7}`, { i, at: Date.now() });
  } else if (op < 8) {
    const id = pick();
    const name = `renamed ${i}`;
    const r = await api('PATCH', `/v1/users/${id}`, { name }).catch((e: Error) => ({ status: 0, body: undefined, text: e.message }));
    model.writes++;
    if (r.status !== 200) model.failedWrites.push({ op: `patch ${id}`, status: r.status, body: r.text });
    else (model.users.get(id) as UserModel).name = name;
  } else if (op === 8) {
    const id = pick();
    const u = model.users.get(id) as UserModel;
    const key = [...u.docs.keys()][0];
    if (!key) return putDoc(model, id, 'k0', { i });
    const r = await api('DELETE', `/v1/users/${id}/data/${key}`).catch((e: Error) => ({ status: 0, body: undefined, text: e.message }));
    model.writes++;
    if (r.status !== 204) model.failedWrites.push({ op: `delete doc ${id}/${key}`, status: r.status, body: r.text });
    else {
      u.docs.delete(key);
      model.deletedDocs.push({ user: id, key });
    }
  } else {
    const id = ids.find((x) => !(model.users.get(x) as UserModel).permanent);
    if (!id) return;
    const r = await api('DELETE', `/v1/users/${id}`).catch((e: Error) => ({ status: 0, body: undefined, text: e.message }));
    model.writes++;
    if (r.status !== 204) model.failedWrites.push({ op: `delete user ${id}`, status: r.status, body: r.text });
    else {
      model.users.delete(id);
      model.deletedUsers.add(id);
    }
  }
}

/** A writer at a steady, bounded rate and two readers of users that are never deleted. */
function startLoad(model: Model, writesPerSecond = 40): { stop: () => Promise<void> } {
  let running = true;
  const writer = (async () => {
    for (let i = 0; running; i++) {
      const started = Date.now();
      await oneWrite(model, i);
      await sleep(Math.max(0, 1000 / writesPerSecond - (Date.now() - started)));
    }
  })();
  const reader = async () => {
    while (running) {
      const stable = [...model.users.entries()].filter(([, u]) => u.permanent);
      const pick = stable[Math.floor(Math.random() * stable.length)];
      if (pick) {
        const r = await api('GET', `/v1/users/${pick[0]}`).catch((e: Error) => ({ status: 0, body: undefined, text: e.message }));
        model.reads++;
        if (r.status !== 200) model.readErrors.push({ status: r.status, body: r.text });
      }
      await sleep(25);
    }
  };
  const readers = [reader(), reader()];
  return {
    stop: async () => {
      running = false;
      await Promise.all([writer, ...readers]);
    },
  };
}

async function seed(model: Model, users: number): Promise<void> {
  const queue = Array.from({ length: users }, (_, i) => i);
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const id = await createUser(model, i % 2 === 0);
      if (id) await putDoc(model, id, 'seed', { i, text: 'x'.repeat(200) });
    }
  }));
}

// ------------------------------------------------------------- the checks

interface ShardRows {
  users: { ksid: string; id: string; email: string; name: string }[];
  docs: { ksid: string; user_id: string; key: string; value: unknown }[];
  emails: { ksid: string; email: string; user_id: string }[];
}

async function withDb<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function allRows(): Promise<Map<string, ShardRows>> {
  const out = new Map<string, ShardRows>();
  for (const s of await catalog.shards()) {
    out.set(s.name, await withDb(s.primaryUrl, async (c) => ({
      users: (await c.query('SELECT ksid::text, id::text, email, name FROM users')).rows,
      docs: (await c.query('SELECT ksid::text, user_id::text, key, value FROM documents')).rows,
      emails: (await c.query('SELECT ksid::text, email, user_id::text FROM email_lookup')).rows,
    })));
  }
  return out;
}

async function latestMap(): Promise<ShardMap> {
  return ShardMap.fromRecord((await catalog.latestMap())!);
}

/**
 * Every acknowledged write is present exactly once, on the shard the current
 * map names; nothing deleted or failed is present; no shard holds a row of a
 * range it does not own.
 */
async function expectAcknowledgedWrites(model: Model): Promise<void> {
  const map = await latestMap();
  const rows = await allRows();
  const owner = (ksid: string) => map.entryFor(ksidFromSql(ksid)).shard;
  const users = new Map<string, { shard: string; row: ShardRows['users'][number] }[]>();
  const docs = new Map<string, { shard: string; value: unknown }[]>();
  const emails = new Map<string, string[]>();
  for (const [shard, r] of rows) {
    for (const u of r.users) {
      expect(owner(u.ksid), `user ${u.id} on ${shard}`).toBe(shard);
      users.set(u.id, [...(users.get(u.id) ?? []), { shard, row: u }]);
    }
    for (const d of r.docs) {
      expect(owner(d.ksid), `document ${d.user_id}/${d.key} on ${shard}`).toBe(shard);
      const k = `${d.user_id}/${d.key}`;
      docs.set(k, [...(docs.get(k) ?? []), { shard, value: d.value }]);
    }
    for (const e of r.emails) {
      expect(owner(e.ksid), `email ${e.email} on ${shard}`).toBe(shard);
      emails.set(e.email, [...(emails.get(e.email) ?? []), shard]);
    }
  }
  for (const [id, u] of model.users) {
    const found = users.get(id) ?? [];
    expect(found.length, `user ${id} copies`).toBe(1);
    expect(found[0]?.row.name).toBe(u.name);
    expect(emails.get(u.email)?.length, `email ${u.email} claims`).toBe(1);
    for (const [key, value] of u.docs) {
      const d = docs.get(`${id}/${key}`) ?? [];
      expect(d.length, `document ${id}/${key} copies`).toBe(1);
      expect(d[0]?.value).toEqual(value);
    }
  }
  for (const id of model.deletedUsers) expect(users.has(id), `deleted user ${id}`).toBe(false);
  for (const d of model.deletedDocs) {
    if (model.users.get(d.user)?.docs.has(d.key)) continue; // written again later
    expect(docs.has(`${d.user}/${d.key}`), `deleted document ${d.user}/${d.key}`).toBe(false);
  }
  for (const f of model.failedWrites) {
    const email = /^create (\S+)$/.exec(f.op)?.[1];
    if (email) expect(emails.has(email), `failed create ${email}`).toBe(false);
  }
}

async function rangeRowCount(shard: string, range: string): Promise<number> {
  const r = parseKeyRange(range);
  const url = (await catalog.shards()).find((s) => s.name === shard)!.primaryUrl;
  return withDb(url, async (c) => {
    let n = 0;
    for (const t of ['users', 'documents', 'email_lookup']) {
      for (const row of (await c.query<{ ksid: string }>(`SELECT ksid::text FROM ${t}`)).rows) if (rangeContains(r, ksidFromSql(row.ksid))) n++;
    }
    return n;
  });
}

function expectNoClientErrors(model: Model): void {
  expect(model.failedWrites, 'writes that failed').toEqual([]);
  expect(model.readErrors, 'reads that failed').toEqual([]);
  expect(model.writes).toBeGreaterThan(50);
  expect(model.reads).toBeGreaterThan(50);
}

/** Test 1: split `source` onto `target` through the CLI while clients read and write through NGINX. */
async function splitUnderLoad(model: Model, source: string, target: string): Promise<void> {
  const load = startLoad(model);
  try {
    await sleep(1500);
    const split = await cli(['plan', '--split', source, '--to', target, '--apply']);
    expect(split.code).toBe(0);
    const wf = await newestWorkflow();
    expect(wf.phase).toBe('switched');
    expect(wf.rowsCopied).toBeGreaterThan(0);
    expect(wf.verify?.ok).toBe(true);
    expect(wf.verify?.tables.every((t) => t.sourceRows === t.targetRows && t.mismatched + t.extraOnSource + t.extraOnTarget === 0)).toBe(true);
    expect((await latestMap()).entryFor(parseKeyRange(wf.range).lo).shard).toBe(target);
    await sleep(1500); // writes keep landing on the new owner
    expect((await cli(['cleanup', wf.id])).code).toBe(0);
    await sleep(1000);
    const done = await workflows.get(wf.id);
    expect(done.phase).toBe('done');
    console.log(`[reshard] ${(await latestMap()).strategy}: split ${wf.range} ${source} → ${target}: ${wf.rowsCopied} rows copied, verify ${wf.verify?.ms} ms; write-unavailability window ${done.cutover?.windowMs} ms`, done.cutover);
    expect(done.cutover?.windowMs).toBeLessThan(1000);
    expect(await rangeRowCount(source, wf.range)).toBe(0);
    const status = await cli(['status', wf.id]);
    expect(status.stdout).toMatch(/phase\s+done/);
    expect(status.stdout).toMatch(/verify\s+OK/);
    expect(status.stdout).toMatch(new RegExp(`write window ${done.cutover?.windowMs} ms`));
  } finally {
    await load.stop();
  }
  expectNoClientErrors(model);
  await expectAcknowledgedWrites(model);
}

// ---------------------------------------------------------------- suite

describe('online resharding (tessera reshard)', () => {
  const model = new Model();

  beforeAll(async () => {
    stack = (await up({
      dir, shards: 2, replicas: 0, apps: 2, strategy: 'hash', ...testPorts({ port: 18480, pgBasePort: 25720, redisPort: 16790, appBasePort: 13601 }),
      appEnv: { TESSERA_LOG_LEVEL: 'warn', TESSERA_MAP_POLL_MS: '1000', TESSERA_RATE_LIMIT: '1000000' }, log: () => undefined,
    })).stack;
    catalog = new CatalogStore(stack.catalog.url);
    workflows = new WorkflowStore(catalog.pool);
    await addShard({ dir, replicas: 0, log: () => undefined });
    await seed(model, 300);
  }, 300_000);

  afterAll(async () => {
    await catalog?.close();
    await down({ dir, purge: true, log: () => undefined });
  }, 120_000);

  it('splits a shard under load: no lost, duplicated or failed write, zero client errors, a short write window', async () => {
    await splitUnderLoad(model, 'shard-a', 'shard-c');
  }, 170_000);

  it('resumes after the CLI is killed with SIGKILL during copy and during verify', async () => {
    const load = startLoad(model, 20);
    try {
      const slow = { TESSERA_RESHARD_STEP_DELAY_MS: '150' };
      const waitPhase = async (phase: string) => {
        for (let i = 0; i < 600; i++) {
          const wf = (await workflows.active())[0];
          if (wf?.phase === phase) return wf;
          await sleep(20);
        }
        throw new Error(`no workflow reached ${phase}`);
      };
      const first = spawnCli(['plan', '--move', '40-80', '--to', 'shard-a', '--apply'], slow);
      const inCopy = await waitPhase('copy');
      first.child.kill('SIGKILL');
      expect((await first.done).signal).toBe('SIGKILL');

      const second = spawnCli(['resume', inCopy.id], slow);
      await waitPhase('verify');
      await sleep(300);
      second.child.kill('SIGKILL');
      expect((await second.done).signal).toBe('SIGKILL');
      expect((await workflows.get(inCopy.id)).phase).toBe('verify');

      expect((await cli(['resume', inCopy.id])).code).toBe(0);
      const wf = await workflows.get(inCopy.id);
      expect(wf.phase).toBe('switched');
      expect(wf.verify?.ok).toBe(true);
      expect((await cli(['cleanup', wf.id])).code).toBe(0);
      expect((await workflows.get(wf.id)).phase).toBe('done');
      expect(await rangeRowCount('shard-c', '40-80')).toBe(0);
    } finally {
      await load.stop();
    }
    expectNoClientErrors(model);
    await expectAcknowledgedWrites(model);
  }, 170_000);

  it('rolls a cut-over range back to its source, keeping writes made on the target in between', async () => {
    const load = startLoad(model, 30);
    try {
      expect((await cli(['plan', '--split', 'shard-b', '--to', 'shard-c', '--apply'])).code).toBe(0);
      const wf = await newestWorkflow();
      expect(wf.phase).toBe('switched');
      await sleep(2000); // writes for the range now land on shard-c only
      const rb = await cli(['rollback', wf.id]);
      expect(rb.code).toBe(0);
      const back = await workflows.get(wf.id);
      expect(back.phase).toBe('rolled_back');
      expect((await latestMap()).entryFor(parseKeyRange(wf.range).lo).shard).toBe('shard-b');
      console.log(`[reshard] rollback of ${wf.range}:`, back.finish);
      await sleep(1500);
    } finally {
      await load.stop();
    }
    expectNoClientErrors(model);
    await expectAcknowledgedWrites(model);
    expect(await rangeRowCount('shard-c', 'c0-')).toBe(0);
  }, 170_000);

  it('refuses bad input with a clear message before anything changes', async () => {
    const before = { map: (await latestMap()).version, workflows: (await workflows.list()).length, shards: (await catalog.shards()).length };
    const refused = async (req: PlanRequest, code: string, text: RegExp) => {
      const err = await buildPlan(catalog, workflows, req).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ReshardInputError);
      expect((err as ReshardInputError).code).toBe(code);
      expect((err as Error).message).toMatch(text);
    };
    await refused({ kind: 'split', shard: 'shard-zz', to: 'shard-c' }, 'UNKNOWN_SHARD', /shard-zz/);
    await refused({ kind: 'move', range: '80-80', to: 'shard-c' }, 'BAD_RANGE', /empty/);
    await refused({ kind: 'move', range: '40-c0', to: 'shard-c' }, 'RANGE_NOT_OWNED', /spans several shards/);
    await refused({ kind: 'add-shard', name: 'shard-x', primary: 'postgres://tessera:tessera@127.0.0.1:1/tessera' }, 'SHARD_UNREACHABLE', /unreachable/);

    // A stray row of the range on the target.
    const shardC = (await catalog.shards()).find((s) => s.name === 'shard-c')!;
    const strayId = randomUUID();
    await withDb(shardC.primaryUrl, async (c) => {
      await c.query("SET tessera.bypass_fence = 'on'");
      await c.query(`INSERT INTO users (ksid, id, email, name) VALUES (9000000000000000000, $1, 'stray@example.com', 'stray')`, [strayId]);
    });
    await refused({ kind: 'move', range: 'fc-', to: 'shard-c' }, 'TARGET_NOT_EMPTY', /already holds 1 rows/);
    await withDb(shardC.primaryUrl, async (c) => {
      await c.query("SET tessera.bypass_fence = 'on'");
      await c.query('DELETE FROM users WHERE id = $1', [strayId]);
    });

    // Through the CLI too: the message, a failing exit code, nothing stored.
    const r = await cli(['plan', '--split', 'nope', '--to', 'shard-c', '--apply']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown shard "nope"/);
    expect({ map: (await latestMap()).version, workflows: (await workflows.list()).length, shards: (await catalog.shards()).length }).toEqual(before);

    // A second workflow on a range already moving; then abort the first.
    expect((await cli(['plan', '--move', 'e0-', '--to', 'shard-c', '--apply', '--no-wait'])).code).toBe(0);
    const moving = await newestWorkflow();
    await refused({ kind: 'move', range: 'f0-', to: 'shard-a' }, 'RANGE_ALREADY_MOVING', new RegExp(moving.id));
    expect((await cli(['abort', moving.id])).code).toBe(0);
    expect((await workflows.get(moving.id)).phase).toBe('aborted');
    expect(await rangeRowCount('shard-c', 'e0-')).toBe(0);
    expect((await latestMap()).version).toBe(before.map);
  }, 120_000);

  it('adds a shard by balancing row counts (2 → 3 shards)', async () => {
    const load = startLoad(model, 20);
    try {
      const r = await cli(['plan', '--add-shard', 'shard-c', '--apply', '--cleanup']);
      expect(r.code).toBe(0);
      const map = await latestMap();
      expect(map.shards().sort()).toEqual(['shard-a', 'shard-b', 'shard-c']);
      const counts = await allRows();
      const users = [...counts.values()].map((s) => s.users.length);
      const total = users.reduce((a, b) => a + b, 0);
      for (const n of users) expect(Math.abs(n - total / 3)).toBeLessThan(total * 0.15);
    } finally {
      await load.stop();
    }
    expectNoClientErrors(model);
    await expectAcknowledgedWrites(model);
  }, 170_000);
});

describe('online resharding of a range-strategy stack', () => {
  const model = new Model();

  beforeAll(async () => {
    stack = (await up({
      dir: resolve('.tessera-test/reshard-range'), shards: 2, replicas: 0, apps: 2, strategy: 'range', ...testPorts({ port: 18490, pgBasePort: 25740, redisPort: 16800, appBasePort: 13611 }),
      appEnv: { TESSERA_LOG_LEVEL: 'warn', TESSERA_MAP_POLL_MS: '1000', TESSERA_RATE_LIMIT: '1000000' }, log: () => undefined,
    })).stack;
    catalog = new CatalogStore(stack.catalog.url);
    workflows = new WorkflowStore(catalog.pool);
    await addShard({ dir: stack.dir, replicas: 0, log: () => undefined });
    await seed(model, 200);
  }, 300_000);

  afterAll(async () => {
    await catalog?.close();
    await down({ dir: resolve('.tessera-test/reshard-range'), purge: true, log: () => undefined });
  }, 120_000);

  // UUIDv7 ids are time-ordered: every user lands on the first shard, and new
  // users land in the upper half, the very range that moves.
  it('splits the shard holding every time-ordered id at its median row, under load', async () => {
    await splitUnderLoad(model, 'shard-a', 'shard-c');
  }, 170_000);
});
