// Jaeger (the trace viewer and OTLP collector) for the local stack's
// `--tracing` and the tracing integration test: built from the Go module
// proxy, once, into the git-ignored .tools/jaeger/. The versions of Jaeger
// and of every module it builds with are pinned by tools/jaeger/go.mod and
// go.sum (a module of ours, because `go install pkg@version` refuses
// Jaeger's own go.mod, which has replace directives). Plain JavaScript: the
// bootstrap runs it before dependencies exist.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODULE_DIR = join(root, 'tools', 'jaeger');
const PACKAGE = 'github.com/jaegertracing/jaeger/cmd/jaeger';

/** Where the built binary lives. */
export const JAEGER_BIN = join(root, '.tools', 'jaeger', 'jaeger');

/** The Jaeger version tools/jaeger/go.mod pins. */
export function jaegerVersion() {
  const m = /github\.com\/jaegertracing\/jaeger (v[0-9][^\s]*)/.exec(readFileSync(join(MODULE_DIR, 'go.mod'), 'utf8'));
  if (!m) throw new Error('tools/jaeger/go.mod pins no github.com/jaegertracing/jaeger version');
  return m[1];
}

/**
 * Builds Jaeger unless the binary of the pinned version is there already.
 * Returns the binary's path. A first build downloads its modules and
 * compiles for several minutes; later ones reuse Go's caches.
 *
 * @param {{ log?: (msg: string) => void, timeoutMs?: number }} [opts]
 */
export function ensureJaeger(opts = {}) {
  const log = opts.log ?? ((msg) => console.error(`[jaeger] ${msg}`));
  const version = jaegerVersion();
  const stamp = `${JAEGER_BIN}.version`;
  if (existsSync(JAEGER_BIN) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === version) return JAEGER_BIN;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) throw new Error('Jaeger is built with Go, which is not on PATH: install Go 1.24 or later');
  log(`building Jaeger ${version} from the Go module proxy into ${dirname(JAEGER_BIN)} (once; the first build takes several minutes)`);
  mkdirSync(dirname(JAEGER_BIN), { recursive: true });
  const started = Date.now();
  const tmp = `${JAEGER_BIN}.${process.pid}.tmp`;
  const r = spawnSync('go', ['build', '-trimpath', '-o', tmp, PACKAGE], {
    cwd: MODULE_DIR,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: opts.timeoutMs ?? 40 * 60_000,
    env: { ...process.env, GOFLAGS: '-mod=readonly' },
  });
  if (r.status !== 0) throw new Error(`go build ${PACKAGE} failed (${r.error ? String(r.error) : `exit ${r.status}`})`);
  renameSync(tmp, JAEGER_BIN);
  writeFileSync(stamp, `${version}\n`);
  log(`built in ${Math.round((Date.now() - started) / 1000)} s`);
  return JAEGER_BIN;
}

// `node scripts/jaeger.mjs`: build it now and print the path.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    console.log(ensureJaeger());
  } catch (err) {
    console.error(`[jaeger] ${err.message}`);
    process.exit(1);
  }
}
