/**
 * docker-compose.yml, its shard-map seed and the image it builds: the file
 * validates with the compose tool, and its topology matches the local stack's
 * (same shards, replicas, key ranges and app environment variable names).
 *
 * Needs `docker compose` (v2 plugin) or `docker-compose` (Debian's package,
 * 1.29); no Docker engine: `config` only reads files. Without either tool the
 * suite fails (it does not skip), because CI installs one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { validateSeed } from '../../src/catalog/migrate.js';
import { loadTopologyFile } from '../../src/catalog/topology.js';
import type { TopologySeed } from '../../src/catalog/topology.js';
import { appEnv } from '../../src/cluster/app.js';
import { planStack, resolveLayoutOptions, seedFromStack } from '../../src/cluster/layout.js';
import { ConfigSchema, loadConfig } from '../../src/config/env.js';
import { planAuth } from '../../src/cluster/auth.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const SEED_FILE = join(ROOT, 'shards', 'compose.json');

const SHARDS = ['shard-a', 'shard-b'];
const EXPECTED_SERVICES = ['catalog', 'shard-a', 'shard-a-replica', 'shard-b', 'shard-b-replica', 'redis', 'migrate', 'app', 'nginx', 'k6'];
/** Services that run once and exit; every other one must have a healthcheck. */
const ONE_SHOT = new Set(['migrate', 'k6']);

// ---------------------------------------------------------------------------
// The rendered configuration, in the two shapes the tools print (v1 prints
// short syntax strings, v2 long syntax objects): normalised here.

type Env = Record<string, string>;

interface Service {
  image?: string;
  build?: { dockerfile?: string; context?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Env | string[];
  ports?: (string | { target: number | string; published?: number | string; host_ip?: string })[];
  expose?: (string | number)[];
  volumes?: (string | { type?: string; source?: string; target: string; read_only?: boolean })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  stop_grace_period?: string;
  profiles?: string[];
  container_name?: string;
  init?: boolean;
}

interface ComposeConfig {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** `["docker", "compose"]` or `["docker-compose"]`, whichever answers `version`. */
function findComposeTool(): string[] | null {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8', timeout: 15_000 });
    if (r.status === 0) return cmd;
  }
  return null;
}

/** `config` of docker-compose.yml (with the `load` profile), parsed; throws with the reason. */
function renderComposeConfig(): ComposeConfig {
  const tool = findComposeTool();
  if (!tool) {
    throw new Error(
      'no compose tool: neither `docker compose version` nor `docker-compose version` works. ' +
        'Install one (Debian: apt-get install docker-compose; or the Docker Compose v2 plugin) — CI does.',
    );
  }
  // --profile load: v2 leaves services of inactive profiles out of `config`.
  // --env-file <empty file>: a developer's .env must not change what is checked
  // (docker-compose 1.29 refuses /dev/null).
  const scratch = mkdtempSync(join(tmpdir(), 'tessera-compose-test-'));
  const emptyEnv = join(scratch, 'empty.env');
  writeFileSync(emptyEnv, '');
  const args = ['--env-file', emptyEnv, '--profile', 'load', '--profile', 'tracing', '--profile', 'monitoring', '-f', COMPOSE_FILE, 'config'];
  let r;
  try {
    r = spawnSync(tool[0]!, [...tool.slice(1), ...args], { cwd: ROOT, env: hermeticEnv(), encoding: 'utf8', timeout: 60_000 });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (r.status !== 0) throw new Error(`${tool.join(' ')} config failed (exit ${r.status ?? r.signal}):\n${r.stderr}${r.error ? String(r.error) : ''}`);
  return parseYaml(r.stdout) as ComposeConfig;
}

/** The test's own environment minus what the compose file interpolates, so defaults apply. */
function hermeticEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('TESSERA_') && !k.startsWith('K6_') && !k.startsWith('COMPOSE_')) env[k] = v;
  }
  return env;
}

function envOf(s: Service): Env {
  const e = s.environment;
  if (!e) return {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv) => [kv.split('=', 1)[0]!, kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v ?? '')]));
}

function argv(v: string[] | string | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v.map(String) : v.split(/\s+/).filter(Boolean);
}

interface Published {
  hostIp: string | undefined;
  published: string | undefined;
  target: string;
}

function portsOf(s: Service): Published[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return { hostIp: p.host_ip, published: p.published === undefined ? undefined : String(p.published), target: String(p.target) };
    // [host_ip:][published:]target[/protocol]
    const parts = p.replace(/\/\w+$/, '').split(':');
    const target = parts.pop()!;
    const published = parts.pop();
    return { hostIp: parts.pop(), published, target };
  });
}

function mountsOf(s: Service): { source: string; target: string; readOnly: boolean }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v === 'object') return { source: v.source ?? '', target: v.target, readOnly: v.read_only === true };
    const [source = '', target = '', mode = ''] = v.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

function dependsOn(s: Service): Record<string, string | undefined> {
  const d = s.depends_on;
  if (!d) return {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, undefined]));
  return Object.fromEntries(Object.entries(d).map(([n, v]) => [n, v.condition]));
}

function hasHealthcheck(s: Service): boolean {
  const test = argv(s.healthcheck?.test);
  return s.healthcheck?.disable !== true && test.length > 0 && test[0] !== 'NONE';
}

/** `15s`, `1m30s`, `500ms` → milliseconds. */
function durationMs(text: string): number {
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)) {
    ms += Number(n) * ({ h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 } as const)[unit as 'h' | 'm' | 's' | 'ms' | 'us'];
  }
  return ms;
}

function hostOf(url: string): string {
  return new URL(url).hostname;
}

// ---------------------------------------------------------------------------

/** The optional observability profiles: checked apart from the stack's own services. */
const OBSERVABILITY = new Set(['tracing', 'monitoring']);
const isObservability = (s: Service) => (s.profiles ?? []).some((p) => OBSERVABILITY.has(p));

describe('docker-compose.yml', () => {
  let services: Record<string, Service>;
  let observability: Record<string, Service>;

  // A missing tool or an invalid file fails every test below (not a skip).
  let loadError: Error | undefined;

  beforeAll(() => {
    try {
      const all = renderComposeConfig().services;
      services = Object.fromEntries(Object.entries(all).filter(([, svc]) => !isObservability(svc)));
      observability = Object.fromEntries(Object.entries(all).filter(([, svc]) => isObservability(svc)));
    } catch (err) {
      loadError = err as Error;
    }
  });

  beforeEach(() => {
    if (loadError) throw loadError;
  });

  it('validates and has exactly the expected services', () => {
    expect(Object.keys(services).sort()).toEqual([...EXPECTED_SERVICES].sort());
  });

  it('uses official images only, the app built from the Dockerfile', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'app' || name === 'migrate') {
        expect(s.build, name).toBeDefined();
        expect(s.image, name).toBe(services.app!.image);
        continue;
      }
      expect(s.build, name).toBeUndefined();
      expect(s.image, name).toMatch(/^(postgres|redis|nginx|grafana\/k6):[\w.-]+$/);
    }
  });

  it('runs NGINX 1.27.3 or later (open-source `server … resolve`)', () => {
    const tag = /^nginx:(\d+)\.(\d+)(?:\.(\d+))?/.exec(services.nginx!.image ?? '');
    expect(tag, services.nginx!.image).not.toBeNull();
    const [major, minor, patch] = [Number(tag![1]), Number(tag![2]), Number(tag![3] ?? 99)];
    expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(1 * 1e6 + 27 * 1e3 + 3);
  });

  it('publishes one host port, NGINX 8080; the app none, so --scale app=N works', () => {
    const published = Object.entries(services).flatMap(([name, s]) => portsOf(s).filter((p) => p.published).map((p) => ({ name, ...p })));
    expect(published).toEqual([{ name: 'nginx', hostIp: '127.0.0.1', published: '8080', target: '8080' }]);
    const app = services.app!;
    expect(app.ports ?? []).toEqual([]);
    expect(app.container_name).toBeUndefined();
    expect((app.expose ?? []).map(String)).toContain('3000');
  });

  it('has a healthcheck on every long-running service; /readyz for the app', () => {
    for (const [name, s] of Object.entries(services)) {
      if (ONE_SHOT.has(name)) continue;
      expect(hasHealthcheck(s), `${name} has no healthcheck`).toBe(true);
    }
    expect(argv(services.app!.healthcheck?.test).join(' ')).toContain('/readyz');
  });

  it('waits on health (or completion of the one-shot migrate) in every depends_on', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        expect(services[dep], `${name} depends on unknown ${dep}`).toBeDefined();
        expect(condition, `${name} → ${dep}`).toBe(ONE_SHOT.has(dep) ? 'service_completed_successfully' : 'service_healthy');
      }
    }
    const app = dependsOn(services.app!);
    for (const dep of ['migrate', 'catalog', 'redis', ...SHARDS, ...SHARDS.map((s) => `${s}-replica`)]) expect(app, dep).toHaveProperty(dep);
    expect(dependsOn(services.nginx!)).toHaveProperty('app', 'service_healthy');
  });

  it('gives the app longer to stop than its drain delay', () => {
    const drain = loadConfig(envOf(services.app!)).TESSERA_DRAIN_MS;
    expect(durationMs(services.app!.stop_grace_period ?? '10s')).toBeGreaterThan(drain);
  });

  it('sets only app variables the app knows (src/config/env.ts), binding all interfaces', () => {
    const known = new Set(Object.keys(ConfigSchema.properties));
    const env = envOf(services.app!);
    // OTEL_*: the standard OpenTelemetry variables (src/observability/tracing-config.ts reads them).
    for (const name of Object.keys(env)) expect(known.has(name) || name.startsWith('OTEL_'), `${name} is not in ConfigSchema`).toBe(true);
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'tracing is off unless an endpoint is given').toBe('');
    expect(env.TESSERA_HOST).toBe('0.0.0.0');
    expect(env.TESSERA_APP_ID, 'TESSERA_APP_ID comes from the container hostname').toBeUndefined();
    expect(hostOf(env.TESSERA_CATALOG_URL!)).toBe('catalog');
    expect(hostOf(env.TESSERA_REDIS_URL!)).toBe('redis');
    expect(envOf(services.migrate!).TESSERA_CATALOG_URL).toBe(env.TESSERA_CATALOG_URL);
  });

  it('wires the app like the local stack does (same variable names)', () => {
    // What `tessera up` hands each app replica, minus what this process passes through.
    const local = appEnv(
      { id: 'app-1', url: 'http://127.0.0.1:3001', port: 3001, pid: 0, log: '/dev/null' },
      { catalogUrl: 'postgres://x', redisUrl: 'redis://x', projectRoot: ROOT, entry: 'src/server.ts', auth: planAuth('/stack', 'jwt') },
    );
    const localNames = Object.keys(local).filter((k) => k.startsWith('TESSERA_') && !(k in process.env));
    const composeNames = new Set(Object.keys(envOf(services.app!)));
    // TESSERA_APP_ID: set by the image's entrypoint from the hostname instead.
    for (const name of localNames.filter((n) => n !== 'TESSERA_APP_ID')) expect(composeNames.has(name), name).toBe(true);
    const entrypoint = readFileSync(join(ROOT, 'docker', 'app', 'entrypoint.sh'), 'utf8');
    expect(entrypoint).toMatch(/TESSERA_APP_ID="\$\{HOSTNAME/);
  });

  it('runs migrations once with the compose seed', () => {
    const m = services.migrate!;
    expect(argv(m.command)).toEqual(['node', 'dist/cli/main.js', 'migrate', '--topology', 'shards/compose.json']);
    for (const db of ['catalog', ...SHARDS]) expect(dependsOn(m), db).toHaveProperty(db, 'service_healthy');
  });

  it('runs shard primaries with wal_level=logical and clones replicas with pg_basebackup', () => {
    for (const shard of SHARDS) {
      const primary = services[shard]!;
      const replica = services[`${shard}-replica`]!;
      expect(argv(primary.command), shard).toContain('wal_level=logical');
      expect(mountsOf(primary).map((m) => m.target), shard).toContain('/docker-entrypoint-initdb.d/10-replication.sh');
      // Settings a standby needs at least as high as its primary's: simplest when identical.
      expect(argv(replica.command)).toEqual(argv(primary.command));

      const env = envOf(replica);
      expect(env.PRIMARY_HOST).toBe(shard);
      expect(env.REPLICATION_SLOT).toMatch(/^[a-z0-9_]{1,63}$/);
      expect(env.PGDATA).toMatch(/^\/var\/lib\/postgresql\/data\/.+/); // a subfolder of the volume (see the entrypoint)
      expect(argv(replica.entrypoint).join(' ')).toContain('tessera-replica-entrypoint.sh');
      expect(dependsOn(replica)).toHaveProperty(shard, 'service_healthy');
      const volume = mountsOf(replica).find((m) => m.target === '/var/lib/postgresql/data');
      expect(volume?.source).toMatch(new RegExp(`${shard}-replica-data$`));
    }
    const slots = SHARDS.map((s) => envOf(services[`${s}-replica`]!).REPLICATION_SLOT);
    expect(new Set(slots).size).toBe(slots.length);
  });

  it('puts NGINX in front with nginx/compose.conf and k6 under the load profile', () => {
    const nginxMount = mountsOf(services.nginx!).find((m) => m.target === '/etc/nginx/nginx.conf');
    expect(nginxMount?.source).toMatch(/nginx\/compose\.conf$/);
    expect(nginxMount?.readOnly).toBe(true);
    for (const [name, s] of Object.entries(services)) expect(s.profiles ?? [], name).toEqual(name === 'k6' ? ['load'] : []);
    expect(envOf(services.k6!).BASE_URL).toBe('http://nginx:8080');
    expect(argv(services.k6!.command).join(' ')).toMatch(/^run \/load-tests\/scenarios\/smoke\.js$/);
  });

  describe('shards/compose.json', () => {
    let seed: TopologySeed;

    beforeAll(() => {
      // With the variables compose gives the migrate service.
      if (!loadError) seed = loadTopologyFile(SEED_FILE, envOf(services.migrate!));
    });

    it('is a valid seed', () => {
      expect(() => validateSeed(seed)).not.toThrow();
    });

    it('names the compose services: one shard per primary service, its replica service', () => {
      expect(seed.shards.map((s) => s.name)).toEqual(SHARDS);
      const postgresServices = Object.keys(services).filter((n) => services[n]!.image?.startsWith('postgres:') && n !== 'catalog');
      expect(postgresServices.sort()).toEqual([...SHARDS, ...SHARDS.map((s) => `${s}-replica`)].sort());
      const pg = envOf(services[SHARDS[0]!]!);
      for (const s of seed.shards) {
        const primary = new URL(s.primary);
        expect(primary.hostname).toBe(s.name);
        expect(primary.pathname).toBe(`/${pg.POSTGRES_DB}`);
        expect(decodeURIComponent(primary.username)).toBe(pg.POSTGRES_USER);
        expect(decodeURIComponent(primary.password)).toBe(pg.POSTGRES_PASSWORD);
        expect(s.replicas.map(hostOf)).toEqual([`${s.name}-replica`]);
      }
    });

    it('matches the local stack: keyspace, strategy, shards, ranges, replicas per shard', () => {
      const local = seedFromStack(
        planStack(resolveLayoutOptions({ dir: join(ROOT, '.tessera-compose-test-unused') }), {
          pgRoot: '/nonexistent', pgOsUser: null, pgBinDir: '/nonexistent', pgVersion: '0',
        }),
      );
      const shape = (t: TopologySeed) => ({
        keyspace: t.keyspace,
        strategy: t.strategy,
        shards: t.shards.map((s) => ({ name: s.name, ranges: s.ranges, replicas: s.replicas.length })),
      });
      expect(shape(seed)).toEqual(shape(local));
    });
  });
  it('has Jaeger under the tracing profile and Prometheus with its exporters under the monitoring profile, built here, UIs on 127.0.0.1 only', () => {
    expect(Object.keys(observability).sort()).toEqual([
      'jaeger', 'pg-exporter-catalog', 'pg-exporter-shard-a', 'pg-exporter-shard-a-replica', 'pg-exporter-shard-b', 'pg-exporter-shard-b-replica', 'prometheus', 'redis-exporter',
    ]);
    expect(observability.jaeger!.profiles).toEqual(['tracing']);
    expect(observability.jaeger!.build?.dockerfile).toBe('docker/jaeger/Dockerfile');
    for (const [name, svc] of Object.entries(observability)) {
      if (name !== 'jaeger') {
        expect(svc.profiles, name).toEqual(['monitoring']);
        expect(svc.build?.dockerfile, name).toBe('docker/prometheus/Dockerfile');
      }
      for (const p of portsOf(svc).filter((x) => x.published)) expect(p.hostIp, name).toBe('127.0.0.1');
    }
    // Every PostgreSQL service has its exporter, and Prometheus finds the app replicas through Docker's DNS.
    for (const db of ['catalog', ...SHARDS, ...SHARDS.map((x) => `${x}-replica`)]) {
      expect(envOf(observability[`pg-exporter-${db}`]!).DATA_SOURCE_NAME, db).toContain(`@${db}:5432/`);
    }
    const prom = readFileSync(join(ROOT, 'docker', 'prometheus', 'prometheus.yml'), 'utf8');
    expect(prom).toMatch(/dns_sd_configs:\s*\n\s*- names: \[app\]/);
    expect(prom).toContain('/etc/prometheus/alerts.yml');
  });
});

describe('Dockerfile and the container scripts', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

  it('builds on node:20-bookworm-slim in stages and runs the compiled server as non-root', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(3);
    for (const f of froms) expect(f).toMatch(/^FROM (\$\{NODE_IMAGE\}|base|deps) AS [a-z-]+$/);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(runtime).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(runtime).toMatch(/^COPY shards \.\/shards$/m); // migrations beside dist/
    expect(runtime).toMatch(/^CMD \[.*"dist\/server\.js"\]$/m);
    // Production dependencies only in the final image.
    expect(runtime).toMatch(/^COPY --from=prod-deps \/app\/node_modules \.\/node_modules$/m);
    expect(dockerfile).toMatch(/^FROM base AS prod-deps\n(?:.*\n)*?RUN npm ci --omit=dev/m);
  });

  it('keeps what the build reads in the context (.dockerignore)', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const needed of ['src', 'shards', 'bin', 'docker', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      expect(ignored, needed).not.toContain(needed);
    }
    expect(ignored).toContain('**/node_modules');
  });

  it('has shell scripts that parse', () => {
    for (const [shell, file] of [
      ['sh', 'docker/app/entrypoint.sh'],
      ['bash', 'docker/postgres/init-primary.sh'],
      ['bash', 'docker/postgres/replica-entrypoint.sh'],
    ] as const) {
      const r = spawnSync(shell, ['-n', join(ROOT, file)], { encoding: 'utf8' });
      expect(r.status, `${file}: ${r.stderr}`).toBe(0);
    }
  });

});
