/**
 * NGINX in front of app containers that come and go: a replica killed under
 * load, and scaling up and down under load with `tessera scale --compose`
 * (which runs `docker compose up --scale`). NGINX is never reloaded or
 * restarted: it resolves `app` again every second.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { authHeaders } from './support/auth.js';
import { composeContext, containersOf, docker, hostnameOf, sh, waitFor, waitHealthy } from './support/compose.js';
import { underLoad } from './support/load.js';

let base: string;
const users: string[] = [];

/** `tessera scale --apps n --compose` from the host, against the suite's project. */
function scaleApps(n: number): string {
  const ctx = composeContext();
  return sh(process.execPath, [
    join(ctx.root, 'bin', 'tessera.mjs'), 'scale', '--apps', String(n), '--compose',
    '--project', ctx.project, '--env-file', ctx.envFile, '--file', join(ctx.root, 'docker-compose.yml'),
  ], { timeoutMs: 240_000 });
}

/** Replicas that answered `n` requests in a row through NGINX. */
async function servedBy(n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}/readyz`, { headers: await authHeaders() });
    await res.arrayBuffer();
    seen.add(res.headers.get('x-tessera-app') ?? '?');
  }
  return seen;
}

/** Waits until requests through NGINX reach exactly these replicas (every one of them, and no other). */
async function waitServedByExactly(hostnames: string[]): Promise<void> {
  const want = [...hostnames].sort().join(',');
  await waitFor(`NGINX sends to exactly ${want}`, 60_000, async () => ([...(await servedBy(60))].sort().join(',') === want ? true : undefined), 100);
}

beforeAll(async () => {
  base = composeContext().baseUrl;
  await waitHealthy('app', composeContext().apps);
  for (let i = 0; i < 30; i++) {
    const res = await fetch(`${base}/v1/users`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(await authHeaders()) }, body: JSON.stringify({ email: `edge-${randomUUID()}@example.com`, name: `Edge ${i}` }),
    });
    expect(res.status).toBe(201);
    users.push(((await res.json()) as { id: string }).id);
  }
});

describe('NGINX in front of app containers', () => {
  it('loses no GET when an app container is killed (docker kill) under a GET load', async () => {
    const apps = await waitHealthy('app', composeContext().apps);
    const victim = apps[0]!;
    const { stats } = await underLoad(base, users, ['get'], async () => {
      docker(['kill', victim]);
    }, { before: 200, after: 400 });
    expect(stats.failures).toEqual([]);
    expect(stats.ok).toBeGreaterThanOrEqual(600);
    expect(docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', victim]).trim()).toBe('exited 137');
    // A killed container counts as stopped by hand: no restart policy brings it back. Its replacement joins on its own.
    docker(['start', victim]);
    await waitHealthy('app', composeContext().apps);
    await waitServedByExactly(containersOf('app').map(hostnameOf));
  });

  it('fails no request, POSTs included, while scaling 3 → 5 → 2 under a GET/PUT/POST load; NGINX follows without a reload', async () => {
    const [nginx] = containersOf('nginx');
    const nginxStarted = docker(['inspect', '--format', '{{.State.StartedAt}} {{.RestartCount}}', nginx!]).trim();
    const nginxProcesses = () => docker(['top', nginx!, '-eo', 'pid,args']).split('\n').filter((l) => /nginx: (master|worker)/.test(l)).sort();
    const processesBefore = nginxProcesses();
    expect(processesBefore.some((l) => l.includes('worker process'))).toBe(true);
    const before = (await waitHealthy('app', 3)).map(hostnameOf);
    let grown: string[] = [];
    const { stats } = await underLoad(base, users, ['get', 'put', 'post'], async () => {
      expect(scaleApps(5)).toMatch(/^5 app replicas running and healthy/m);
      grown = containersOf('app').map(hostnameOf);
      expect(grown).toHaveLength(5);
      await waitServedByExactly(grown);
      expect(scaleApps(2)).toMatch(/^2 app replicas running and healthy/m);
    }, { before: 150, after: 300 });
    expect(stats.failures).toEqual([]);
    const remaining = containersOf('app').map(hostnameOf);
    expect(remaining).toHaveLength(2);
    for (const h of before) expect(grown).toContain(h);
    await waitServedByExactly(remaining);
    // The same NGINX master and workers throughout: nothing reloaded or restarted it.
    expect(docker(['inspect', '--format', '{{.State.StartedAt}} {{.RestartCount}}', nginx!]).trim()).toBe(nginxStarted);
    expect(nginxProcesses()).toEqual(processesBefore);
    // Back to the suite's size for the suites after this one.
    scaleApps(composeContext().apps);
    await waitServedByExactly(containersOf('app').map(hostnameOf));
  });
});
