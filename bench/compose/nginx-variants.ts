/**
 * The two NGINX configurations `npm run bench:compose` compares, each in a
 * container of the tessera/nginx image on the stack's edge network, in
 * front of the same app containers:
 *
 *  - `dns`: nginx/compose.conf as shipped: `app` resolved per request (1 s
 *    cache), a new upstream connection per request, `Connection: close`.
 *  - `keepalive`: the same file with the local stack's upstream instead
 *    (nginx/local.conf.template's `upstream tessera_app` block: least_conn,
 *    `keepalive 64`, 4 s idle timeout), listing the app containers' current
 *    addresses, and `Connection: ""` so that connections are kept. What the
 *    compose stack would run if NGINX 1.22 could follow scaling with it.
 *
 * Both get the same change besides: the per-address rate limit raised out of
 * the way (the load comes from one address). Everything else is the file as
 * shipped, so the difference measured is the upstream part alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/cluster/index.js';
import { sh, type ComposeTarget } from './stack.js';

export type Variant = 'dns' | 'keepalive';
export const VARIANTS: Variant[] = ['dns', 'keepalive'];

function replaceExactly(text: string, from: string | RegExp, to: string, what: string): string {
  const hits = typeof from === 'string' ? text.split(from).length - 1 : (text.match(new RegExp(from.source, `${from.flags.replace('g', '')}g`)) ?? []).length;
  if (hits !== 1) throw new Error(`nginx/compose.conf: expected one ${what}, found ${hits}`);
  return text.replace(from, to);
}

/** Both files' shared change: no per-address limit in the way of a one-address load. */
function unthrottled(conf: string): string {
  let out = replaceExactly(conf, /zone=per_addr:20m rate=\d+r\/s/, 'zone=per_addr:20m rate=1000000r/s', 'per_addr zone');
  out = replaceExactly(out, /limit_req zone=per_addr burst=\d+ nodelay;/, 'limit_req zone=per_addr burst=1000000 nodelay;', 'per_addr limit');
  return out;
}

/** The local stack's upstream block, filled in for `addresses` (`ip:3000`). */
export function localUpstream(addresses: string[]): string {
  const template = readFileSync(join(PROJECT_ROOT, 'nginx', 'local.conf.template'), 'utf8');
  const block = /\n( {4}upstream tessera_app \{[\s\S]*?\n {4}\})\n/.exec(template)?.[1];
  if (!block) throw new Error('nginx/local.conf.template: no `upstream tessera_app` block');
  return block
    .replace('{{BALANCE}}', 'least_conn;')
    .replace('{{UPSTREAM_SERVERS}}', addresses.map((a) => `        server ${a} max_fails=1 fail_timeout=5s;`).join('\n'));
}

/** The configuration of a variant. */
export function renderVariant(variant: Variant, addresses: string[]): string {
  const shipped = unthrottled(readFileSync(join(PROJECT_ROOT, 'nginx', 'compose.conf'), 'utf8'));
  if (variant === 'dns') return shipped;
  let out = replaceExactly(shipped, /\n\s*# Every replica of the service `app`[^\n]*\n\s*set \$tessera_app app:3000;\n/, '\n', '`set $tessera_app`');
  out = replaceExactly(out, 'proxy_pass http://$tessera_app;', 'proxy_pass http://tessera_app;', 'proxy_pass');
  out = replaceExactly(out, 'proxy_set_header Connection close;', 'proxy_set_header Connection "";', 'Connection header');
  out = replaceExactly(out, '\n    server {\n', `\n${localUpstream(addresses)}\n\n    server {\n`, 'server block');
  return out;
}

/** Container name of a variant. */
export function variantName(t: ComposeTarget, variant: Variant): string {
  return `${t.project}-bench-nginx-${variant}`;
}

/** Starts a variant on the stack's edge network, published on 127.0.0.1:`port`; its container id. */
export function startVariant(t: ComposeTarget, variant: Variant, addresses: string[], port: number, dir: string, cpus: string | undefined): string {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, `nginx-${variant}.conf`);
  writeFileSync(conf, renderVariant(variant, addresses));
  stopVariant(t, variant);
  // The image the stack's own NGINX runs.
  const [nginx] = sh('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${t.project}`, '--filter', 'label=com.docker.compose.service=nginx']).trim().split('\n');
  const image = sh('docker', ['inspect', '--format', '{{.Config.Image}}', nginx!]).trim();
  return sh('docker', [
    'run', '-d', '--name', variantName(t, variant), '--network', `${t.project}_edge`,
    '-p', `127.0.0.1:${port}:8080`, '-v', `${conf}:/etc/nginx/nginx.conf:ro`,
    '--sysctl', 'net.ipv4.tcp_tw_reuse=1', '--sysctl', 'net.ipv4.ip_local_port_range=1024 65000',
    ...(cpus ? ['--cpuset-cpus', cpus] : []),
    '--label', `tessera.bench=${t.project}`, image,
  ]).trim();
}

/** Removes a variant's container if there is one. */
export function stopVariant(t: ComposeTarget, variant: Variant): void {
  spawnSync('docker', ['rm', '-f', variantName(t, variant)], { stdio: 'ignore', timeout: 60_000 });
}
