/**
 * k6 cannot be installed on the team's machines (AGPL), so the k6 scripts are
 * checked here without k6: each module is evaluated in Node with stand-ins for
 * the `k6`, `k6/http`, `k6/metrics` and `k6/execution` modules (a tiny ESM
 * loader), and the tests assert on what k6 would read — `options`,
 * `thresholds`, `handleSummary` — and on what the scripts import. The runner
 * (`scripts/load.mjs`) is exercised with a fake k6 executable.
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const LOAD_TESTS = join(ROOT, 'load-tests');
const SCENARIO_NAMES = ['smoke', 'read-heavy', 'write-heavy', 'mixed', 'spike', 'soak', 'during-reshard'];

/** The k6 modules the scripts may use, as small stand-ins that record nothing and never touch the network. */
const STUBS: Record<string, string> = {
  k6: `export const check = () => true; export const sleep = () => {}; export const group = (_n, f) => f();
       export const fail = (m) => { throw new Error(m); };`,
  'k6/http': `const res = { status: 200, body: '{}', headers: {}, json: () => ({}) };
       export default { get: () => res, post: () => res, put: () => res, patch: () => res, del: () => res, request: () => res,
         batch: (reqs) => reqs.map(() => res), expectedStatuses: (...s) => ({ expected: s }), setResponseCallback: () => {} };`,
  'k6/metrics': `class Metric { constructor(name) { this.name = name; } add() {} }
       export class Trend extends Metric {} export class Counter extends Metric {} export class Rate extends Metric {} export class Gauge extends Metric {}`,
  'k6/execution': `export default { vu: { idInTest: 1, iterationInScenario: 0 }, scenario: { name: 'stub', iterationInTest: 0 } };`,
};

const HOOKS = `
const STUBS = ${JSON.stringify(STUBS)};
export async function resolve(specifier, context, next) {
  if (specifier === 'k6' || specifier.startsWith('k6/')) {
    if (!(specifier in STUBS)) throw new Error('no such k6 module: ' + specifier);
    return { url: 'k6stub:' + specifier, shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.startsWith('k6stub:')) return { format: 'module', source: STUBS[url.slice(7)], shortCircuit: true };
  return next(url, context);
}`;

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tessera-k6-'));
  await writeFile(join(work, 'hooks.mjs'), HOOKS);
  // k6's globals, as k6 sets them in the init context.
  await writeFile(
    join(work, 'register.mjs'),
    `import { register } from 'node:module';
     register(${JSON.stringify(pathToFileURL(join(work, 'hooks.mjs')).href)});
     globalThis.__ENV = { ...process.env }; globalThis.__VU = 0; globalThis.__ITER = 0;`,
  );
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs an ES module body in Node with the k6 stand-ins and returns what it printed as JSON. */
async function withK6Stubs<T>(body: string, env: Record<string, string> = {}): Promise<T> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', pathToFileURL(join(work, 'register.mjs')).href, '--input-type=module', '-e', body], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
  });
  return JSON.parse(stdout) as T;
}

const scenarioUrl = (name: string) => pathToFileURL(join(LOAD_TESTS, 'scenarios', `${name}.js`)).href;
const libUrl = (name: string) => pathToFileURL(join(LOAD_TESTS, 'lib', `${name}.js`)).href;

interface Loaded {
  exports: string[];
  options: {
    scenarios: Record<string, Record<string, unknown>>;
    thresholds: Record<string, string[]>;
    summaryTrendStats?: string[];
  };
  summary: Record<string, string>;
}

/** A k6 end-of-test summary with just enough in it for the formatter. */
const FAKE_DATA = {
  metrics: {
    http_reqs: { type: 'counter', values: { count: 10, rate: 5 } },
    http_req_duration: { type: 'trend', values: { avg: 3, 'p(95)': 8, 'p(99)': 9, max: 12 }, thresholds: { 'p(95)<500': { ok: true } } },
    http_req_failed: { type: 'rate', values: { rate: 0 }, thresholds: { 'rate<0.01': { ok: false } } },
    checks: { type: 'rate', values: { rate: 1, passes: 10, fails: 0 } },
    write_gap_ms: { type: 'trend', values: { max: 2500 } },
    'write_gap_ms{range:shard-a}': { type: 'trend', values: { max: 2500 } },
    lost_writes: { type: 'counter', values: { count: 0 } },
  },
};

async function loadScenarios(env: Record<string, string> = {}): Promise<Record<string, Loaded>> {
  return withK6Stubs<Record<string, Loaded>>(
    `const out = {};
     for (const [name, url] of Object.entries(${JSON.stringify(Object.fromEntries(SCENARIO_NAMES.map((n) => [n, scenarioUrl(n)])))})) {
       const m = await import(url);
       out[name] = { exports: Object.keys(m), options: m.options, summary: m.handleSummary(${JSON.stringify(FAKE_DATA)}) };
     }
     console.log(JSON.stringify(out));`,
    env,
  );
}

/** Every `import … from '…'` / `import '…'` specifier, and whether the file uses require or dynamic import. */
function importsOf(source: string): { specifiers: string[]; other: boolean } {
  const specifiers = [...source.matchAll(/^\s*import\s+(?:[\s\S]*?\s+from\s+)?['"]([^'"]+)['"]/gm)].map((m) => m[1] as string);
  return { specifiers, other: /\brequire\s*\(|\bimport\s*\(/.test(source) };
}

describe('the k6 scenarios', () => {
  let loaded: Record<string, Loaded>;
  beforeAll(async () => {
    loaded = await loadScenarios();
  });

  it('has one file per load shape and nothing else', async () => {
    const files = (await readdir(join(LOAD_TESTS, 'scenarios'))).sort();
    expect(files).toEqual(SCENARIO_NAMES.map((n) => `${n}.js`).sort());
  });

  it.each(SCENARIO_NAMES)('%s imports only k6 modules and ../lib/*.js', async (name) => {
    const { specifiers, other } = importsOf(await readFile(join(LOAD_TESTS, 'scenarios', `${name}.js`), 'utf8'));
    expect(other).toBe(false);
    expect(specifiers.length).toBeGreaterThan(0);
    for (const s of specifiers) expect(s).toMatch(/^(k6|k6\/(http|metrics|execution)|\.\.\/lib\/[a-z-]+\.js)$/);
  });

  it('the shared lib imports only k6 modules and its own files', async () => {
    for (const file of await readdir(join(LOAD_TESTS, 'lib'))) {
      const { specifiers, other } = importsOf(await readFile(join(LOAD_TESTS, 'lib', file), 'utf8'));
      expect(other, file).toBe(false);
      for (const s of specifiers) expect(s, file).toMatch(/^(k6|k6\/(http|metrics|execution)|\.\/[a-z-]+\.js)$/);
    }
  });

  it.each(SCENARIO_NAMES)('%s exports options, setup, a default function and handleSummary', (name) => {
    expect(loaded[name]?.exports.sort()).toEqual(expect.arrayContaining(['default', 'handleSummary', 'options', 'setup']));
  });

  it.each(SCENARIO_NAMES)('%s declares thresholds on p95 and p99 latency, failed requests and checks', (name) => {
    const { thresholds, summaryTrendStats } = loaded[name]!.options;
    expect(thresholds.http_req_duration).toEqual(expect.arrayContaining([expect.stringMatching(/^p\(95\)<\d+$/), expect.stringMatching(/^p\(99\)<\d+$/)]));
    expect(thresholds.http_req_failed?.[0]).toMatch(/^rate(<|==)/);
    expect(thresholds.checks?.[0]).toMatch(/^rate(>|==)/);
    // The JSON summary shows p(99) only when it is asked for.
    expect(summaryTrendStats).toContain('p(99)');
  });

  it.each(SCENARIO_NAMES)('%s bounds dropped_iterations when it uses an arrival-rate executor', (name) => {
    const { scenarios, thresholds } = loaded[name]!.options;
    const arrival = Object.values(scenarios).some((s) => String(s.executor).endsWith('arrival-rate'));
    if (arrival) expect(thresholds.dropped_iterations?.[0]).toMatch(/^count<=\d+$/);
    else expect(thresholds.dropped_iterations).toBeUndefined();
  });

  it.each(SCENARIO_NAMES)('%s writes its JSON summary to load-tests/results/%s-summary.json and a short text to stdout', (name) => {
    const summary = loaded[name]!.summary;
    expect(Object.keys(summary).sort()).toEqual([`load-tests/results/${name}-summary.json`, 'stdout']);
    const json = JSON.parse(summary[`load-tests/results/${name}-summary.json`]!);
    expect(json.tessera.scenario).toBe(name);
    expect(json.metrics.http_reqs.values.count).toBe(10);
    expect(summary.stdout).toContain('1 of 2 thresholds FAILED');
    expect(summary.stdout).toContain('p99 9.00 ms');
  });

  it('the read and write shapes run at a constant arrival rate, the spike ramps', () => {
    for (const name of ['read-heavy', 'write-heavy', 'mixed', 'soak']) {
      expect(Object.values(loaded[name]!.options.scenarios)[0]?.executor, name).toBe('constant-arrival-rate');
    }
    expect(Object.values(loaded.spike!.options.scenarios)[0]?.executor).toBe('ramping-arrival-rate');
    expect(Object.values(loaded.smoke!.options.scenarios)[0]).toMatchObject({ vus: 1, iterations: 1 });
  });

  it('RATE and DURATION override the schedule and the dropped-iterations bound follows', async () => {
    const { mixed } = await loadScenarios({ RATE: '300', DURATION: '1m', VUS: '20' });
    expect(mixed!.options.scenarios.mixed).toMatchObject({ rate: 300, duration: '1m', preAllocatedVUs: 20 });
    // 300/s for 60 s is 18,000 iterations; 1% of them may drop.
    expect(mixed!.options.thresholds.dropped_iterations).toEqual(['count<=180']);
  });

  it('a malformed knob stops the script at init, before any load', async () => {
    await expect(loadScenarios({ RATE: 'fast' })).rejects.toThrow(/RATE must be a positive number, got "fast"/);
  });

  it('RESULTS_DIR moves the JSON summary', async () => {
    const { smoke } = await loadScenarios({ RESULTS_DIR: 'results/' });
    expect(Object.keys(smoke!.summary)).toContain('results/smoke-summary.json');
  });

  it('during-reshard reports the write-unavailability window overall and per range, and fails on a lost write', () => {
    const { options, summary } = loaded['during-reshard']!;
    expect(options.thresholds.lost_writes).toEqual(['count==0']);
    expect(options.thresholds['write_gap_ms{range:shard-a}']).toEqual(options.thresholds.write_gap_ms);
    const results = JSON.parse(summary['load-tests/results/during-reshard-summary.json']!).tessera.results;
    // The longest gap (2,500 ms) less the normal interval between a writer's writes (500 ms).
    expect(results).toMatchObject({ writeUnavailabilityMs: 2000, byRange: { 'shard-a': 2000 }, normalIntervalMs: 500, lostWrites: 0 });
  });
});

describe('the shared k6 lib', () => {
  it('picks users by a seeded Zipf law: same seed, same picks; the head takes most of them', async () => {
    const { a, b, head } = await withK6Stubs<{ a: number[]; b: number[]; head: number }>(
      `import { prng, zipfPicker } from ${JSON.stringify(libUrl('users'))};
       const draw = (seed) => { const p = zipfPicker(1000, 1.1, prng(seed)); return Array.from({ length: 5000 }, p); };
       const a = draw(42), b = draw(42);
       console.log(JSON.stringify({ a: a.slice(0, 50), b: b.slice(0, 50), head: a.filter((i) => i < 10).length / a.length }));`,
    );
    expect(a).toEqual(b);
    expect(Math.max(...a)).toBeLessThan(1000);
    expect(head).toBeGreaterThan(0.3);
  });

  it('counts the iterations of a ramping schedule as the area under its stages', async () => {
    const out = await withK6Stubs<{ iterations: number; stages: unknown[]; seconds: number }>(
      `import { rampingIterations, spikeStages } from ${JSON.stringify(libUrl('stages'))};
       import { seconds } from ${JSON.stringify(libUrl('config'))};
       const stages = spikeStages(10, 80, '10s');
       console.log(JSON.stringify({ iterations: rampingIterations(10, stages), stages, seconds: seconds('1m30s') }));`,
    );
    // 10 s at 10/s, 5 s ramp to 80, 10 s at 80, 5 s ramp down, 10 s at 10.
    expect(out.iterations).toBe(100 + 225 + 800 + 225 + 100);
    expect(out.stages).toHaveLength(5);
    expect(out.seconds).toBe(90);
  });
});

describe('npm run load (scripts/load.mjs)', () => {
  let server: Server;
  let readyStatus = 200;
  let url: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/readyz' ? readyStatus : 404, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    url = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  function runLoad(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, ['scripts/load.mjs', ...args], { cwd: ROOT, env: { PATH: '/usr/bin:/bin', BASE_URL: '', ...env } });
      let output = '';
      child.stdout.on('data', (b: Buffer) => (output += b.toString()));
      child.stderr.on('data', (b: Buffer) => (output += b.toString()));
      child.on('error', fail);
      child.on('close', (code) => done({ code, output }));
    });
  }

  /** A stand-in k6 that prints its arguments and exits with `code`. */
  async function fakeK6(code: number): Promise<string> {
    const file = join(work, `k6-${code}`);
    await writeFile(file, `#!/bin/sh\necho "k6 args: $*"\necho "k6 token: $AUTH_TOKEN"\nexit ${code}\n`);
    await chmod(file, 0o755);
    return file;
  }

  it('when k6 is missing, says how to get it (and how to run it against the compose stack) and exits 2', async () => {
    const run = await runLoad(['smoke', '--base-url', url], { PATH: work });
    expect(run.code).toBe(2);
    expect(run.output).toContain('k6 was not found');
    expect(run.output).toContain('github.com/grafana/k6/releases');
    expect(run.output).toContain('TESSERA_TOKEN=$(docker compose run --rm -T cli token');
    expect(run.output).toContain('--base-url http://127.0.0.1:8080');
  });

  it('runs the scenario with k6 against the base URL and exits with k6 code', async () => {
    readyStatus = 200;
    const run = await runLoad(['mixed', '--base-url', url, '--vus', '3'], { K6_BIN: await fakeK6(99), TESSERA_TOKEN: 'tok.en.x' });
    expect(run.code, run.output).toBe(99);
    expect(run.output).toContain(`k6 args: run ${join(LOAD_TESTS, 'scenarios/mixed.js')} -e BASE_URL=${url} -e RESULTS_DIR=${join(LOAD_TESTS, 'results')} --vus 3`);
    // The token reaches k6 through its environment, never on its command line.
    expect(run.output).toContain('k6 token: tok.en.x');
    expect(run.output.split('\n').find((l) => l.startsWith('k6 args'))).not.toContain('tok.en.x');
  });

  it('without a token, and without a local stack whose key could sign one, says how to get one and does not start k6', async () => {
    const run = await runLoad(['smoke', '--base-url', url, '--dir', join(work, 'no-stack')], { K6_BIN: await fakeK6(0) });
    expect(run.code).toBe(1);
    expect(run.output).toContain('no token');
    expect(run.output).not.toContain('k6 args');
  });

  it('takes the base URL from BASE_URL when no flag is given', async () => {
    const run = await runLoad(['smoke'], { K6_BIN: await fakeK6(0), BASE_URL: url, AUTH_TOKEN: 'a.b.c' });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(`-e BASE_URL=${url}`);
  });

  it('when the stack is not ready, tells to run npm run up first and does not start k6', async () => {
    readyStatus = 503;
    const run = await runLoad(['smoke', '--base-url', url], { K6_BIN: await fakeK6(0) });
    readyStatus = 200;
    expect(run.code).toBe(1);
    expect(run.output).toContain('run `npm run up` first');
    expect(run.output).not.toContain('k6 args');
  });

  it('an unknown scenario lists the ones there are', async () => {
    const run = await runLoad(['nope'], { K6_BIN: await fakeK6(0) });
    expect(run.code).toBe(2);
    expect(run.output).toContain('unknown scenario "nope"');
    expect(run.output).toContain('during-reshard, mixed, read-heavy, smoke, soak, spike, write-heavy');
  });
});
