// The local-stack launcher on its own small stack (own folder, own ports), so
// it can stop and restart it without touching the stack the other suites share.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down } from '../../src/cluster/down.js';
import { isAlive } from '../../src/cluster/proc.js';
import { withClient } from '../../src/cluster/pg-instance.js';
import { isInRecovery, replicationRows } from '../../src/cluster/pg-replication.js';
import { readStack, pgInstances, type StackInfo } from '../../src/cluster/stack-file.js';
import { collectStatus } from '../../src/cluster/status.js';
import { up, type UpOptions } from '../../src/cluster/up.js';
import { PORT_OFFSET, testPorts } from '../support/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-cluster-test-'));
const options: UpOptions = {
  dir, shards: 2, replicas: 1, apps: 1, ...testPorts({ port: 18380, pgBasePort: 25620, redisPort: 16690, appBasePort: 13301 }),
  log: () => undefined,
};

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('local stack launcher', () => {
  let stack: StackInfo;

  beforeAll(async () => {
    stack = (await up(options)).stack;
  }, 300_000);

  afterAll(async () => {
    await down({ dir, purge: true, log: () => undefined });
  }, 120_000);

  it('records every endpoint in stack.json, with shards named and ranged the Vitess way', () => {
    const onDisk = readStack(dir);
    expect(onDisk.state).toBe('up');
    expect(onDisk.shards.map((s) => [s.name, s.ranges])).toEqual([['shard-a', ['-80']], ['shard-b', ['80-']]]);
    expect(onDisk.nginx.url).toBe(`http://127.0.0.1:${18380 + PORT_OFFSET}`);
    for (const inst of pgInstances(onDisk)) expect(isAlive(inst.pid)).toBe(true);
  });

  it('makes replicas real streaming standbys that receive rows written on the primary', async () => {
    for (const shard of stack.shards) {
      expect(await isInRecovery(shard.primary.url)).toBe(false);
      const rows = await replicationRows(shard.primary.url);
      for (const r of shard.replicas) {
        expect(await isInRecovery(r.url)).toBe(true);
        expect(rows.find((row) => row.name === r.slot)?.state).toBe('streaming');
      }
    }
    const shard = stack.shards[0]!;
    const marker = `probe-${Date.now()}`;
    await withClient(shard.primary.url, async (c) => {
      await c.query('CREATE TABLE IF NOT EXISTS launcher_probe (v text)');
      await c.query('INSERT INTO launcher_probe VALUES ($1)', [marker]);
    });
    const seen = await waitFor(() =>
      withClient(shard.replicas[0]!.url, async (c) => (await c.query('SELECT 1 FROM launcher_probe WHERE v = $1', [marker]).catch(() => ({ rowCount: 0 }))).rowCount === 1));
    expect(seen).toBe(true);
  });

  it('puts NGINX in front of the apps, passing the request id and hiding /metrics', async () => {
    const ready = await fetch(`${stack.nginx.url}/readyz`, { headers: { 'x-request-id': 'cluster-test-1' } });
    expect(ready.status).toBe(200);
    expect(ready.headers.get('x-request-id')).toBe('cluster-test-1');
    const metrics = await fetch(`${stack.nginx.url}/metrics`);
    expect(metrics.status).toBe(404);
    expect(metrics.headers.get('content-type')).toBe('application/problem+json');
  });

  it('reports every process healthy in status', async () => {
    const status = await collectStatus(stack);
    expect(status.components.filter((c) => !c.ok)).toEqual([]);
    expect(status.mapVersions.length).toBe(1);
  });

  it('changes nothing when up runs again on a running stack, and refuses flags that would change it', async () => {
    const again = await up(options);
    expect(again.alreadyRunning).toBe(true);
    expect(again.stack.apps[0]!.pid).toBe(stack.apps[0]!.pid);
    await expect(up({ ...options, rate: '50r/s' })).rejects.toThrow(/is up .*--rate 50r\/s \(the stack has 2000r\/s\)/);
    expect(readStack(dir).nginx.rate).toBe('2000r/s');
  });

  it('stops everything on down and brings the same data back on the next up', async () => {
    await down({ dir, log: () => undefined });
    const stopped = readStack(dir);
    for (const pid of [stack.nginx.pid, stack.redis.pid, ...stack.apps.map((a) => a.pid), ...pgInstances(stack).map((i) => i.pid)]) {
      expect(isAlive(pid)).toBe(false);
    }
    expect(existsSync(stopped.catalog.dataDir)).toBe(true);

    // Flags that would change the layout are refused, and nothing starts.
    await expect(up({ ...options, shards: 3, apps: 2 })).rejects.toThrow(/--shards 3 \(the stack has 2\), --apps 2 \(the stack has 1\).*Nothing was started/);
    for (const pid of [stopped.nginx.pid, stopped.redis.pid, ...pgInstances(stopped).map((i) => i.pid)]) expect(isAlive(pid)).toBe(false);
    expect(readStack(dir).shards).toHaveLength(2);

    // NGINX's own settings are applied as it starts again.
    const restarted = await up({ ...options, rate: '3000r/s', burst: 5000 });
    expect(restarted.restarted).toBe(true);
    stack = restarted.stack;
    expect(readStack(dir).nginx).toMatchObject({ rate: '3000r/s', burst: 5000 });
    const conf = readFileSync(stack.nginx.config, 'utf8');
    expect(conf).toMatch(/rate=3000r\/s;/);
    expect(conf).toMatch(/burst=5000 nodelay;/);
    const count = await withClient(stack.shards[0]!.primary.url, async (c) => (await c.query('SELECT count(*)::int AS n FROM launcher_probe')).rows[0] as { n: number });
    expect(count.n).toBeGreaterThan(0);
  });
});
