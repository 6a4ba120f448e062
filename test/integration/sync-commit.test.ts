/**
 * A synchronous shard whose replica stops confirming commits. A COMMIT then
 * waits for a standby; the statement timeout does not cut that wait short
 * (PostgreSQL stops its timer before committing) and the app gives up on the
 * query, unacknowledged. But when the wait is cancelled (pg_cancel_backend,
 * as an operator or a tool that cancels stuck queries does), PostgreSQL
 * reports the commit as done, with a WARNING that only the primary has it.
 * Acknowledging it would break the promise that an acknowledged write
 * survives losing the primary, so the app answers 503 instead. Once the
 * replica is back, the write is there (it was committed on the primary, just
 * never acknowledged). On a stack of its own: one shard, one synchronous
 * replica, one app, called directly.
 */
import { resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, up, withClient, type StackInfo } from '../../src/cluster/index.js';
import { serviceAuthHeaders } from '../support/auth.js';
import { eventually } from '../support/cache.js';
import { call, uniqueEmail } from '../support/http.js';
import { testPorts } from '../support/ports.js';

const DIR = resolve('.tessera-test/sync-commit');
let stack: StackInfo;
let auth: Record<string, string>;
let base: string;

beforeAll(async () => {
  stack = (await up({
    dir: DIR, shards: 1, replicas: 1, apps: 1, strategy: 'hash', ...testPorts({ port: 18800, pgBasePort: 26400, redisPort: 17100, appBasePort: 13900 }),
    appEnv: { TESSERA_LOG_LEVEL: 'warn' },
    log: () => undefined,
  })).stack;
  auth = await serviceAuthHeaders(DIR);
  base = stack.apps[0]!.url;
});

afterAll(async () => {
  if (process.env.TESSERA_TEST_KEEP !== '1') await down({ dir: DIR, purge: true, log: () => undefined });
});

const api = (method: string, path: string, body?: unknown) => call(method, path, { base, auth: false, headers: auth, ...(body !== undefined && { body }) });

/** Standbys streaming from the shard's primary. */
const streaming = (primaryUrl: string) =>
  withClient(primaryUrl, async (c) => Number((await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_replication WHERE state = 'streaming'")).rows[0]!.n));

/** Cancels every backend of the primary waiting for a synchronous standby; how many it cancelled. */
const cancelSyncWaits = (primaryUrl: string) =>
  withClient(primaryUrl, async (c) => (await c.query("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")).rowCount ?? 0);

describe('a synchronous shard whose replica stops confirming commits', () => {
  it('answers 503 for writes no replica confirmed, and keeps them once the replica is back', async () => {
    const shard = stack.shards[0]!;
    const replicaUrl = shard.replicas[0]!.url;
    const created = await api('POST', '/v1/users', { email: uniqueEmail('sync'), name: 'Sync' });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;

    // The replica's WAL receiver is pointed at a port nothing listens on: the primary has no synchronous standby.
    const conninfo = await withClient(replicaUrl, async (c) => (await c.query<{ v: string }>("SELECT current_setting('primary_conninfo') AS v")).rows[0]!.v);
    await withClient(replicaUrl, async (c) => {
      await c.query("ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 connect_timeout=1'");
      await c.query('SELECT pg_reload_conf()');
    });
    try {
      expect(await eventually(async () => (await streaming(shard.primary.url)) === 0, 15_000)).toBe(true);

      // Each write waits for a standby; the backend waiting is cancelled as an operator would.
      for (const [method, path, body] of [['PUT', `/v1/users/${id}/data/unconfirmed`, { n: 1 }], ['PATCH', `/v1/users/${id}`, { name: 'Unconfirmed' }]] as const) {
        const pending = api(method, path, body);
        expect(await eventually(async () => (await cancelSyncWaits(shard.primary.url)) > 0, 2_000, 20), `${method} waited for a standby`).toBe(true);
        const res = await pending;
        expect(res.status, method).toBe(503);
        expect(res.body, method).toMatchObject({ status: 503, code: 'TESSERA_ERR_COMMIT_UNCONFIRMED' });
        expect(res.headers.get('retry-after'), method).toBe('1');
      }
    } finally {
      await withClient(replicaUrl, async (c) => {
        await c.query(`ALTER SYSTEM SET primary_conninfo = ${pg.escapeLiteral(conninfo)}`);
        await c.query('SELECT pg_reload_conf()');
      });
    }
    expect(await eventually(async () => (await streaming(shard.primary.url)) === 1, 30_000)).toBe(true);

    // Writes are acknowledged again. What the 503s left on the primary is there: read with the
    // new write's consistency token (so no replica that has not replayed it answers), and on the replica itself.
    const after = await api('PUT', `/v1/users/${id}/data/confirmed`, { n: 2 });
    expect(after.status).toBe(201);
    const token = after.headers.get('x-tessera-consistency')!;
    expect(token).toBeTruthy();
    const read = (path: string) => call('GET', path, { base, auth: false, headers: { ...auth, 'x-tessera-consistency': token } });
    expect((await read(`/v1/users/${id}/data/unconfirmed`)).body).toMatchObject({ value: { n: 1 } });
    expect((await read(`/v1/users/${id}`)).body).toMatchObject({ name: 'Unconfirmed' });
    const onReplica = () => withClient(replicaUrl, async (c) => {
      const doc = await c.query("SELECT 1 FROM documents WHERE user_id = $1 AND key = 'unconfirmed'", [id]);
      const user = await c.query('SELECT name FROM users WHERE id = $1', [id]);
      return doc.rowCount === 1 && user.rows[0]?.name === 'Unconfirmed';
    });
    expect(await eventually(onReplica, 15_000)).toBe(true);
  }, 90_000);
});
