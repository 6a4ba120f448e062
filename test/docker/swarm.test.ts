/**
 * docker-stack.yml on a single-node Swarm, with the images the compose suite
 * built: deploy, a request through the edge, scaling the apps 2 → 4 with
 * `tessera scale --swarm`, a killed app task replaced, and the stack removed
 * with everything it made.
 *
 * The Swarm is this suite's own when the engine had none. Its gateway bridge
 * is made first with host_binding_ipv4 127.0.0.1, so that the edge's
 * host-mode port binds loopback only (Swarm's port syntax has no host
 * address); the suite checks that before sending. The global teardown leaves
 * that Swarm, after the compose stack is down: on Docker 20.10, leaving a
 * Swarm drops the published ports of running containers on bridge networks
 * (the compose stack's NGINX), and they come back only when recreated.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './support/http.js';
import { authHeaders, DOCKER_AUTH } from './support/auth.js';
import { composeContext, docker, sh, waitFor } from './support/compose.js';
import { swarmMarker } from './support/swarm-marker.js';

const offset = Number(process.env.TESSERA_TEST_PORT_OFFSET ?? 0);
const STACK = `tswarm${offset}`;
const PORT = 28480 + offset;
const EDGE = `http://127.0.0.1:${PORT}`;
const LABELS = ['catalog', 'shard-a', 'shard-a-replica', 'shard-b', 'shard-b-replica', 'edge'].map((l) => `tessera.${l}`);

let ownSwarm = false;
let ownGateway = false;
let node = '';
let labelled: string[] = [];
let removed = false;

function swarmState(): string {
  return docker(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim();
}

function stackEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TESSERA_SECRETS_DIR: composeContext().secretsDir,
    TESSERA_HTTP_PORT: String(PORT),
    TESSERA_APP_REPLICAS: '2',
    TESSERA_AUTH: DOCKER_AUTH,
    TESSERA_LOG_LEVEL: 'warn',
    TESSERA_RATE_LIMIT: '100000',
  };
}

/** Names of what the stack made (containers, networks, volumes, secrets) that still exist. */
function leftovers(): string[] {
  const label = `label=com.docker.stack.namespace=${STACK}`;
  return [
    ...docker(['ps', '-a', '-q', '--filter', label]).split('\n'),
    ...docker(['network', 'ls', '-q', '--filter', label]).split('\n'),
    ...docker(['secret', 'ls', '-q', '--filter', label]).split('\n'),
  ].map((l) => l.trim()).filter(Boolean);
}

function volumes(): string[] {
  return docker(['volume', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${STACK}`]).split('\n').map((l) => l.trim()).filter(Boolean);
}

/** `replicas running/desired` of each of the stack's services. */
function serviceReplicas(): Record<string, string> {
  const out = docker(['stack', 'services', STACK, '--format', '{{.Name}} {{.Replicas}}']).split('\n').filter(Boolean);
  return Object.fromEntries(out.map((l) => { const [n, r] = l.split(' '); return [n!.slice(STACK.length + 1), r!]; }));
}

/** Container ids of the app service's running tasks. */
function appTaskContainers(): string[] {
  return docker(['ps', '-q', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${STACK}_app`, '--filter', 'status=running'])
    .split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Distinct replicas answering through the edge in `n` requests. */
async function servedBy(n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${EDGE}/readyz`, { headers: await authHeaders(), signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    if (res.status === 200) seen.add(res.headers.get('x-tessera-app') ?? '?');
  }
  return seen;
}

async function removeStack(): Promise<void> {
  if (removed) return;
  removed = true;
  sh('docker', ['stack', 'rm', STACK]);
  await waitFor(`stack ${STACK} gone`, 120_000, () => (leftovers().length === 0 ? true : undefined), 1000);
  // Swarm leaves named volumes behind, as compose's `down` does without -v.
  for (const v of volumes()) docker(['volume', 'rm', v]);
}

beforeAll(async () => {
  if (swarmState() !== 'active') {
    // The gateway bridge carries host-mode ports: bind them on loopback only.
    const existing = docker(['network', 'ls', '-q', '--filter', 'name=^docker_gwbridge$']).trim();
    if (existing) {
      const opts = docker(['network', 'inspect', '--format', '{{json .Options}}', 'docker_gwbridge']);
      if (!opts.includes('"com.docker.network.bridge.host_binding_ipv4":"127.0.0.1"')) docker(['network', 'rm', 'docker_gwbridge']);
    }
    if (!docker(['network', 'ls', '-q', '--filter', 'name=^docker_gwbridge$']).trim()) {
      docker(['network', 'create', '--driver', 'bridge',
        '--opt', 'com.docker.network.bridge.name=docker_gwbridge',
        '--opt', 'com.docker.network.bridge.enable_icc=false',
        '--opt', 'com.docker.network.bridge.enable_ip_masquerade=true',
        '--opt', 'com.docker.network.bridge.host_binding_ipv4=127.0.0.1',
        'docker_gwbridge']);
      ownGateway = true;
    }
    docker(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:2377']);
    ownSwarm = true;
  }
  node = docker(['info', '--format', '{{.Swarm.NodeID}}']).trim();
  const had = docker(['node', 'inspect', '--format', '{{json .Spec.Labels}}', node]);
  labelled = LABELS.filter((l) => !had.includes(`"${l}"`));
  if (labelled.length > 0) docker(['node', 'update', ...labelled.flatMap((l) => ['--label-add', `${l}=true`]), node]);
}, 120_000);

afterAll(async () => {
  try {
    await removeStack();
  } finally {
    if (labelled.length > 0) docker(['node', 'update', ...labelled.flatMap((l) => ['--label-rm', l]), node]);
    // What the global teardown undoes once the compose stack is down (see the header).
    writeFileSync(swarmMarker(composeContext().envFile), JSON.stringify({ ownSwarm, ownGateway }));
  }
}, 240_000);

describe('docker-stack.yml on a single-node Swarm', () => {
  it('deploys with the compose suite\'s images and serves a request through the host-mode edge on 127.0.0.1', async () => {
    sh('docker', ['stack', 'deploy', '-c', join(composeContext().root, 'docker-stack.yml'), STACK], { env: stackEnv() });
    await waitFor('every service of the stack running', 180_000, () => {
      const r = serviceReplicas();
      const long = Object.entries(r).filter(([name]) => name !== 'migrate');
      return long.length === 8 && long.every(([, v]) => /^(\d+)\/\1$/.test(v!)) ? r : undefined;
    }, 1000);
    const [edge] = docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${STACK}_nginx`]).split('\n');
    const ports = docker(['inspect', '--format', '{{json .NetworkSettings.Ports}}', edge!]);
    expect(JSON.parse(ports)).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(PORT) }] });

    await waitFor('the edge ready', 120_000, async () => ((await servedBy(1)).size === 1 ? true : undefined), 500);
    const email = `swarm-${randomUUID()}@example.com`;
    const created = await call('POST', '/v1/users', { base: EDGE, body: { email, name: 'Swarm' } });
    expect(created.status).toBe(201);
    const read = await call('GET', `/v1/users/${(created.body as { id: string }).id}`, {
      base: EDGE, headers: { 'x-tessera-consistency': created.headers.get('x-tessera-consistency')! },
    });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ email });
    // migrate ran once and finished.
    expect(docker(['service', 'ps', `${STACK}_migrate`, '--format', '{{.CurrentState}}'])).toMatch(/^Complete/m);
  });

  it('scales the apps from 2 to 4 with `tessera scale --swarm`, and the edge reaches all four', async () => {
    await waitFor('2 running app tasks', 60_000, () => (appTaskContainers().length === 2 ? true : undefined), 500)
      .catch((err: Error) => { throw new Error(`${err.message}\n${docker(['service', 'ps', '--no-trunc', `${STACK}_app`])}`); });
    const out = sh(process.execPath, [join(composeContext().root, 'bin', 'tessera.mjs'), 'scale', '--apps', '4', '--swarm', STACK], { timeoutMs: 180_000 });
    expect(out).toMatch(/^4 app replicas running and healthy/m);
    const hostnames = appTaskContainers().map((id) => id.slice(0, 12)).sort();
    expect(hostnames).toHaveLength(4);
    await waitFor('the edge reaches all four apps', 60_000, async () => ([...(await servedBy(40))].sort().join() === hostnames.join() ? true : undefined), 200);
  });

  it('answers `tessera status` from a one-off container on its attachable backend network (as the README shows)', () => {
    const out = sh('docker', [
      'run', '--rm', '--network', `${STACK}_backend`,
      '-e', 'TESSERA_CATALOG_URL=postgres://tessera@catalog:5432/tessera_catalog',
      '-e', `PGPASSWORD=${readFileSync(join(composeContext().secretsDir, 'db_password'), 'utf8').trim()}`,
      'tessera/app:local', 'tessera', 'status',
    ], { timeoutMs: 60_000 });
    expect(out).toMatch(/ok {3}shard-a primary shard-a:5432 +accepting writes, 1 replica\(s\) streaming/);
    expect(out).toMatch(/ok {3}shard-b replica shard-b-replica:5432 +in recovery, streaming/);
    expect(out).toMatch(/^apps: 4 live/m);
  });

  it('replaces an app task that is killed', async () => {
    const before = appTaskContainers();
    const victim = before[0]!;
    docker(['kill', victim]);
    const after = await waitFor('a new app task in place of the killed one', 120_000, () => {
      const now = appTaskContainers();
      return now.length === 4 && !now.includes(victim) ? now : undefined;
    }, 500);
    expect(after.filter((id) => !before.includes(id))).toHaveLength(1);
    const hostnames = after.map((id) => id.slice(0, 12)).sort();
    await waitFor('the edge reaches the replacement', 60_000, async () => ([...(await servedBy(40))].sort().join() === hostnames.join() ? true : undefined), 200);
  });

  it('is removed with everything it made (`docker stack rm`, then its volumes)', async () => {
    expect(volumes().length).toBeGreaterThan(0);
    await removeStack();
    expect(leftovers()).toEqual([]);
    expect(volumes()).toEqual([]);
  });
});
