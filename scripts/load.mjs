#!/usr/bin/env node
// `npm run load -- <scenario> [--base-url URL] [k6 run flags…]`: runs a k6
// scenario from load-tests/scenarios/ against a ready stack. It finds k6
// (K6_BIN, else `k6` on PATH), resolves the target (--base-url, BASE_URL,
// else NGINX from .tessera/stack.json), checks /readyz, finds a bearer token
// (AUTH_TOKEN, else TESSERA_TOKEN, else one signed with the local stack's
// key), then hands over to `k6 run` with stdio inherited and the token in its
// environment (not on its command line), and exits with k6's code (99: a
// threshold failed).
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { register } from 'tsx/esm/api';

const ROOT = resolve(import.meta.dirname, '..');
const SCENARIOS = join(ROOT, 'load-tests/scenarios');
const RESULTS = join(ROOT, 'load-tests/results');

const HOW_TO_GET_K6 = `k6 was not found (looked at K6_BIN, then for \`k6\` on PATH).
Get it in one of these ways:
  - a k6 binary on your PATH: download a release from https://github.com/grafana/k6/releases,
    or use your OS package manager (brew install k6, winget install k6, apt/dnf from dl.k6.io);
    or point K6_BIN at the binary
Against the compose stack, from the host, with a token its cli service signs:
  TESSERA_TOKEN=$(docker compose run --rm -T cli token --scope users:read,users:write,users:list --client k6) \\
    npm run load -- <scenario> --base-url http://127.0.0.1:8080`;

function scenarios() {
  return readdirSync(SCENARIOS).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort();
}

function usage(problem) {
  console.error(`${problem}\nusage: npm run load -- <scenario> [--base-url URL] [--dir STACK_DIR] [k6 run flags…]\nscenarios: ${scenarios().join(', ')}`);
  process.exit(2);
}

/** The k6 executable: K6_BIN, else the first `k6` on PATH. */
function findK6(env) {
  if (env.K6_BIN) return env.K6_BIN;
  const names = process.platform === 'win32' ? ['k6.exe', 'k6.cmd'] : ['k6'];
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of names) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here; keep looking
      }
    }
  }
  return undefined;
}

function parseArgs(argv) {
  const [scenario, ...rest] = argv;
  if (scenario === undefined || scenario.startsWith('-')) usage('which scenario?');
  if (!scenarios().includes(scenario)) usage(`unknown scenario "${scenario}"`);
  let baseUrl;
  let dir = join(ROOT, '.tessera');
  const k6Args = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--dir') {
      dir = rest[++i];
      if (dir === undefined) usage('--dir needs a folder');
      dir = resolve(dir);
    } else if (arg === '--base-url') {
      baseUrl = rest[++i];
      if (baseUrl === undefined) usage('--base-url needs a URL');
    } else if (arg.startsWith('--base-url=')) {
      baseUrl = arg.slice('--base-url='.length);
    } else {
      k6Args.push(arg);
    }
  }
  return { scenario, baseUrl, dir, k6Args };
}

const { scenario, baseUrl: flag, dir, k6Args } = parseArgs(process.argv.slice(2));
const k6 = findK6(process.env);
if (k6 === undefined) {
  console.error(HOW_TO_GET_K6);
  process.exit(2);
}

// The target helpers are TypeScript, shared with `tessera seed`.
register();
const { assertReady, resolveBaseUrl } = await import('../src/seed/target.ts');
const { clientToken } = await import('../src/auth/stack-token.ts');
let baseUrl;
let token;
try {
  baseUrl = resolveBaseUrl(flag, process.env, dir);
  await assertReady(baseUrl);
  token = process.env.AUTH_TOKEN || (await clientToken({ dir, scopes: ['users:read', 'users:write', 'users:list'], clientId: 'k6', ttlSeconds: 24 * 3600 }));
} catch (err) {
  console.error(`load: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

// handleSummary cannot create folders; k6 resolves its paths from its working directory.
mkdirSync(RESULTS, { recursive: true });
const args = ['run', join(SCENARIOS, `${scenario}.js`), '-e', `BASE_URL=${baseUrl}`, '-e', `RESULTS_DIR=${RESULTS}`, ...k6Args];
console.error(`load: ${k6} ${args.join(' ')}`);
const child = spawn(k6, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...(token !== undefined && { AUTH_TOKEN: token }) } });
// Ctrl-C reaches k6 too (same process group); wait for it to write its summary and exit.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('error', (err) => {
  console.error(`load: could not start ${k6}: ${err.message}`);
  process.exit(2);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
