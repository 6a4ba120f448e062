/**
 * Every NGINX configuration the project ships passes `nginx -t`, and the
 * compose one behaves like the local stack's (same limits, retries, request
 * ids, problem+json answers; /metrics hidden).
 *
 *  - nginx/local.conf.template: rendered by the local stack's own renderer
 *    (src/cluster/nginx.ts) for two app replicas, then checked as is.
 *  - nginx/compose.conf: checked on a copy with two Docker-only parts
 *    replaced (the replacements are the only differences, and each must
 *    match once):
 *      1. `resolver 127.0.0.11` → `resolver 127.0.0.1`: Docker's embedded DNS
 *         exists only inside containers (`nginx -t` does not query it, but the
 *         copy should not point at an address that means nothing here).
 *      2. `pid /var/run/nginx.pid` → a file in the temporary folder.
 *    The app replicas are named through a variable (`app:3000`, resolved per
 *    request), which `nginx -t` does not resolve, so that part is checked as
 *    shipped. The Docker suite (test/docker/) runs the file in its image.
 * Temporary files go under os.tmpdir(); nothing listens and no request is sent.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderNginxConfig } from '../../src/cluster/nginx.js';
import type { NginxInfo } from '../../src/cluster/stack-file.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NGINX_DIR = join(ROOT, 'nginx');
const COMPOSE_CONF = join(NGINX_DIR, 'compose.conf');
const LOCAL_TEMPLATE = join(NGINX_DIR, 'local.conf.template');
/** Every configuration shipped under nginx/ must be covered below. */
const COVERED = ['compose.conf', 'local.conf.template'];

function findNginx(): string | null {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (existsSync(candidate)) return candidate;
  }
  const r = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/**
 * `nginx -t`; returns its report and exit status. Its stdout and stderr are a
 * file, not pipes: the compose configuration logs to /dev/stdout and
 * /dev/stderr (container logs), which NGINX opens by path, and that fails
 * with ENXIO when they are the socket pairs Node uses for pipes.
 */
function nginxTest(bin: string, prefix: string, conf: string): { status: number | null; output: string } {
  const report = join(prefix, 'nginx-t.out');
  const fd = openSync(report, 'w');
  try {
    const r = spawnSync(bin, ['-t', '-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { stdio: ['ignore', fd, fd], timeout: 30_000 });
    return { status: r.status, output: `${readFileSync(report, 'utf8')}${r.error ? String(r.error) : ''}` };
  } finally {
    closeSync(fd);
  }
}

/** Replaces `from` (exactly `times` occurrences) or throws: the copy must track the file. */
function replaceOnce(text: string, from: RegExp, to: string, times = 1): string {
  const all = new RegExp(from.source, `${from.flags.replace('g', '')}g`);
  const hits = text.match(all);
  if (hits?.length !== times) throw new Error(`nginx/compose.conf: expected ${times} × ${from} to replace for the host test, found ${hits?.length ?? 0}`);
  return text.replace(all, to);
}

/** The body of `upstream <name> { … }`. */
function upstreamBody(conf: string, name: string): string | undefined {
  return new RegExp(`upstream\\s+${name}\\s*\\{([^}]*)\\}`).exec(conf)?.[1];
}

/** The host-checkable copy of nginx/compose.conf (see the header for why each change). */
function renderComposeForHost(conf: string, dir: string): string {
  let out = replaceOnce(conf, /resolver\s+127\.0\.0\.11\b/, 'resolver 127.0.0.1');
  out = replaceOnce(out, /^pid\s+\/var\/run\/nginx\.pid;/m, `pid ${join(dir, 'nginx.pid')};`);
  return out;
}

/** Values of every `name …;` directive, whitespace-normalised. */
function directive(conf: string, name: string): string[] {
  const out: string[] = [];
  for (const m of conf.matchAll(new RegExp(`^\\s*${name}\\s+([^;\\n]*);`, 'gm'))) out.push(m[1]!.trim().replace(/\s+/g, ' '));
  return out;
}

/** The `return <status> '<json>'` body of a named location, parsed. */
function problemBody(conf: string, location: string): unknown {
  // The first `return` after the location opens (the JSON has braces of its own).
  const body = new RegExp(`location\\s+${location}\\s*\\{[^']*?return\\s+\\d+\\s+'([^']*)'`).exec(conf)?.[1];
  return body === undefined ? undefined : JSON.parse(body);
}

let nginxBin: string | null;
let tmp: string;

beforeAll(() => {
  nginxBin = findNginx();
  tmp = mkdtempSync(join(tmpdir(), 'tessera-nginx-test-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function requireNginx(): string {
  if (!nginxBin) throw new Error('nginx not found: install it (apt-get install nginx-light, or `npm run bootstrap` as root)');
  return nginxBin;
}

describe('shipped NGINX configurations pass nginx -t', () => {
  it('covers every file under nginx/', () => {
    const shipped = readdirSync(NGINX_DIR).filter((f) => /\.conf(\.template)?$/.test(f));
    expect(shipped.sort()).toEqual([...COVERED].filter((f) => existsSync(join(NGINX_DIR, f))).sort());
    expect(shipped).toContain('compose.conf');
  });

  it('nginx/compose.conf (host copy: Docker-only names replaced)', () => {
    const bin = requireNginx();
    const dir = join(tmp, 'compose');
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, renderComposeForHost(readFileSync(COMPOSE_CONF, 'utf8'), dir));
    const { status, output } = nginxTest(bin, dir, conf);
    expect(status, output).toBe(0);
    expect(output).toMatch(/test is successful/);
  });

  it.runIf(existsSync(LOCAL_TEMPLATE))('nginx/local.conf.template (rendered as the local stack does, with and without user affinity)', () => {
    const bin = requireNginx();
    const prefix = join(tmp, 'local');
    for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, 'tmp', sub), { recursive: true });
    const info: NginxInfo = {
      url: 'http://127.0.0.1:18080',
      port: 18080,
      pid: 0,
      config: join(prefix, 'nginx.conf'),
      prefix,
      rate: '2000r/s',
      burst: 4000,
      workers: 1,
      accessLog: join(prefix, 'access.log'),
      errorLog: join(prefix, 'error.log'),
    };
    const apps = [3001, 3002].map((port, i) => ({ id: `app-${i + 1}`, url: `http://127.0.0.1:${port}`, port, pid: 0, log: join(prefix, `app-${i + 1}.log`) }));
    for (const affinity of [false, true]) {
      // Two replicas in four slots: every slot is an upstream server, and a request may try each once.
      const rendered = renderNginxConfig(readFileSync(LOCAL_TEMPLATE, 'utf8'), { ...info, affinity, upstreamPorts: [3001, 3002, 3003, 3004] }, apps);
      const upstream = upstreamBody(rendered, 'tessera_app')!;
      expect(directive(upstream, 'server')).toEqual([3001, 3002, 3003, 3004].map((p) => `127.0.0.1:${p} max_fails=1 fail_timeout=5s`));
      expect(directive(upstream, 'zone')).toEqual(['tessera_app 64k']);
      expect(directive(rendered, 'proxy_next_upstream_tries')).toEqual(['4']);
      expect(directive(upstream, 'hash')).toEqual(affinity ? ['$tessera_user consistent'] : []);
      expect(/^\s*least_conn;/m.test(upstream)).toBe(!affinity);
      writeFileSync(info.config, rendered);
      const { status, output } = nginxTest(bin, prefix, info.config);
      expect(status, `affinity ${affinity}: ${output}`).toBe(0);
    }
    // A stack file from before slots: the apps' own ports.
    const legacy = renderNginxConfig(readFileSync(LOCAL_TEMPLATE, 'utf8'), info, apps);
    expect(directive(upstreamBody(legacy, 'tessera_app')!, 'server')).toEqual(['127.0.0.1:3001 max_fails=1 fail_timeout=5s', '127.0.0.1:3002 max_fails=1 fail_timeout=5s']);
    expect(directive(legacy, 'proxy_next_upstream_tries')).toEqual(['2']);
  });

  it('bench/baselines/nginx-minimal.conf.template (the benchmark\'s minimal-proxy ceiling, rendered the same way)', () => {
    const bin = requireNginx();
    const prefix = join(tmp, 'minimal');
    for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, 'tmp', sub), { recursive: true });
    const info: NginxInfo = {
      url: 'http://127.0.0.1:18881', port: 18881, pid: 0, config: join(prefix, 'nginx.conf'), prefix, rate: '1r/s', burst: 1, workers: 1,
      accessLog: join(prefix, 'access.log'), errorLog: join(prefix, 'error.log'),
    };
    const rendered = renderNginxConfig(readFileSync(join(ROOT, 'bench', 'baselines', 'nginx-minimal.conf.template'), 'utf8'), info, [
      { id: 'bare', url: 'http://127.0.0.1:14101', port: 14101, pid: 0, log: '' },
    ]);
    // Nothing per request beyond proxying over a keep-alive pool.
    expect(directive(rendered, 'access_log')).toEqual(['off']);
    expect(directive(rendered, 'limit_req')).toEqual([]);
    expect(directive(upstreamBody(rendered, 'tessera_app')!, 'keepalive')).toEqual(['64']);
    writeFileSync(info.config, rendered);
    const { status, output } = nginxTest(bin, prefix, info.config);
    expect(status, output).toBe(0);
  });
});

describe('nginx/compose.conf', () => {
  const conf = readFileSync(COMPOSE_CONF, 'utf8');

  it('finds every app replica through Docker DNS at run time, re-resolved every second, without an upstream block', () => {
    // NGINX 1.22 resolves an upstream block's servers only at load; a name in a variable is resolved per request.
    expect(directive(conf, 'resolver')).toEqual(['127.0.0.11 valid=1s ipv6=off']);
    expect(/^\s*upstream\s/m.test(conf)).toBe(false);
    expect(directive(conf, 'set')).toEqual(['$tessera_app app:3000']);
    expect(directive(conf, 'proxy_pass')).toEqual(['http://$tessera_app']);
    // No pool to keep connections in: the app closes each one.
    expect(directive(conf, 'proxy_set_header')).toContain('Connection close');
    expect(directive(conf, 'proxy_http_version')).toEqual(['1.1']);
    expect(directive(conf, 'listen')).toEqual(['8080']);
  });

  it('tries every address of the answer once when replicas stop or refuse', () => {
    expect(directive(conf, 'proxy_next_upstream_tries')).toEqual(['0']);
    expect(directive(conf, 'proxy_next_upstream_timeout')).toEqual(['10s']);
  });

  it('hides /metrics, /internal and the server version', () => {
    expect(conf).toMatch(/location ~ \^\/\(metrics\|internal\)\(\/\|\$\) \{[^}]*return 404/);
    expect(directive(conf, 'server_tokens')).toEqual(['off']);
  });

  it('answers 429 with problem+json', () => {
    expect(problemBody(conf, '@rate_limited')).toEqual({ type: 'about:blank', title: 'Too Many Requests', status: 429, code: 'TESSERA_ERR_RATE_LIMITED' });
    expect(directive(conf, 'limit_req_status')).toEqual(['429']);
    expect(directive(conf, 'error_page')).toContain('429 = @rate_limited');
  });

  it('retries on errors and timeouts only, never on a 503 (a shard that is down is not a broken replica)', () => {
    expect(directive(conf, 'proxy_next_upstream')).toEqual(['error timeout']);
    expect(directive(conf, 'proxy_set_header')).toContain('X-Tessera-Edge nginx');
  });

  it.runIf(existsSync(LOCAL_TEMPLATE))('matches the local stack template in everything but how replicas are found', () => {
    // The local stack's upstream block (slots, balancing, its keepalive pool)
    // has no twin here; neither has its user-affinity map.
    // (Placeholders blanked first: their braces would end the block early.)
    const local = readFileSync(LOCAL_TEMPLATE, 'utf8')
      .replace(/\{\{[A-Z_]+\}\}/g, '_')
      .replace(/\n\s*upstream\s+tessera_app\s*\{[^}]*\}/, '');
    expect(upstreamBody(local, 'tessera_app')).toBeUndefined();
    for (const name of [
      // Not proxy_next_upstream_tries: both try each candidate once, but count them differently.
      'server_tokens', 'client_max_body_size', 'client_body_buffer_size', 'client_header_timeout', 'client_body_timeout',
      'send_timeout', 'limit_req_status', 'proxy_next_upstream', 'proxy_next_upstream_timeout', 'proxy_connect_timeout',
      'proxy_read_timeout', 'proxy_send_timeout', 'proxy_hide_header', 'proxy_max_temp_file_size', 'add_header', 'error_page',
      'keepalive_timeout', 'keepalive_requests', 'worker_shutdown_timeout', 'worker_connections',
    ]) {
      expect(directive(conf, name), name).toEqual(directive(local, name));
    }
    // Every header the local stack sends upstream, but how the connection is kept (a pool there, none here).
    const headers = (c: string) => directive(c, 'proxy_set_header').filter((h) => !h.startsWith('Connection '));
    expect(headers(conf)).toEqual(headers(local));
    expect(directive(local, 'proxy_set_header')).toContain('Connection ""');
    // The JSON access log has the same fields (compose adds upstream_connect_time).
    const fields = (c: string) => [...(/log_format\s+tessera_json[^;]*;/.exec(c)?.[0] ?? '').matchAll(/"(\w+)":/g)].map((m) => m[1]);
    expect(fields(conf)).toEqual(expect.arrayContaining(fields(local)));
    for (const location of ['@rate_limited', '@too_large', '@unavailable']) expect(problemBody(conf, location), location).toEqual(problemBody(local, location));
    expect(conf).toContain('location = /_tessera/400');
    expect(/location ~ \^\/\(metrics\|internal\)[^{]*\{[^}]*\}/.exec(conf)?.[0]).toEqual(/location ~ \^\/\(metrics\|internal\)[^{]*\{[^}]*\}/.exec(local)?.[0]);
    // Same maps (request id, rate-limit keys, methods) and zones.
    const maps = (c: string) => [...c.matchAll(/^\s*map\s+(\S+)\s+(\S+)\s*\{[^}]*\}/gm)].map((m) => m[0].trim().replace(/\s+/g, ' ')).filter((m) => !m.includes('$tessera_user'));
    expect(maps(conf).map((m) => m.split(' ').slice(1, 3).join(' '))).toEqual(expect.arrayContaining(['$http_x_request_id $req_id', '$http_authorization $anonymous_key']));
    expect(maps(conf)).toEqual(maps(local));
    expect(directive(conf, 'limit_req_zone')).toHaveLength(directive(local, 'limit_req_zone').length);
  });
});

/** A `# --- <name> ---` … `# --- end of <name> ---` block of a configuration, whitespace-normalised. */
function block(conf: string, name: string): string | undefined {
  const start = conf.indexOf(`# --- ${name}`);
  const end = conf.indexOf(`# --- end of ${name}`);
  return start < 0 || end < start ? undefined : conf.slice(start, end).replace(/\s+/g, ' ');
}

/** What NGINX's `map $uri $tessera_allow` gives for a path: the first matching regex, in order. */
function nginxAllow(conf: string, path: string): string {
  const body = /map \$uri \$tessera_allow \{([^}]*)\}/.exec(conf)?.[1] ?? '';
  for (const m of body.matchAll(/^\s*"~([^"]+)"\s+"([^"]*)";/gm)) if (new RegExp(m[1]!).test(path)) return m[2]!;
  return '';
}

describe('methods and sizes NGINX answers itself', () => {
  const local = readFileSync(LOCAL_TEMPLATE, 'utf8');
  const compose = readFileSync(COMPOSE_CONF, 'utf8');

  it('are configured the same in the local stack and in compose', () => {
    for (const name of ['methods (maps)', 'methods and sizes (server)', 'methods and sizes (locations)']) {
      expect(block(local, name), name).toBeDefined();
      expect(block(compose, name), name).toEqual(block(local, name));
    }
    for (const location of ['@method_not_allowed', '@not_found']) expect(problemBody(local, location), location).toMatchObject({ type: 'about:blank', code: expect.stringMatching(/^TESSERA_ERR_/) });
    expect(directive(local, 'error_page')).toEqual(expect.arrayContaining(['405 = @method_not_allowed', '494 =431 /_tessera/431', '414 /_tessera/414']));
  });

  it("list in Allow exactly the methods the app's routes allow, path by path", async () => {
    const { buildApp } = await import('../../src/api/app.js');
    const { createMetrics } = await import('../../src/observability/metrics.js');
    const app = await buildApp({
      users: {} as never,
      documents: {} as never,
      probe: { draining: () => false, check: async () => ({ ready: true, detail: {} }) },
      metrics: createMetrics('nginx-config-test'),
      limits: { maxDocBytes: 65536, maxProfileBytes: 16384 },
    });
    await app.ready();
    try {
      const id = '01890000-0000-7000-8000-00000000abcd';
      const paths = ['/v1/users', '/v1/users/by-email/a@example.com', `/v1/users/${id}`, `/v1/users/${id}/data`, `/v1/users/${id}/data/k.1`, '/healthz', '/readyz', '/openapi.json', '/', '/v2/users', `/v1/users/${id}/data/k/extra`, '/v1/users/by-email'];
      for (const path of paths) {
        const res = await app.inject({ method: 'OPTIONS', url: path });
        const appAllow = res.statusCode === 204 ? String(res.headers.allow) : '';
        expect(nginxAllow(local, path), path).toBe(appAllow);
      }
    } finally {
      await app.close();
    }
  });
});
