/**
 * The load generator, run as its own process (pinned to its own core by the
 * runner) so that it never shares an event loop with a server: a warm-up run
 * whose numbers are dropped, then the measured run, both with autocannon.
 * Input: one JSON argument ({@link LoadSpec}); output: one JSON line
 * ({@link LoadResult}) on stdout.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { prng } from '../load-tests/lib/random.js';
import { zipfSampler, type Workload } from './workload.js';

export interface LoadSpec {
  /** Origin of the server under test, e.g. http://127.0.0.1:14001 */
  url: string;
  workload: Workload;
  connections: number;
  warmupS: number;
  durationS: number;
  /** Send exactly this many requests instead of running for durationS (cache-filling sweeps). */
  amount?: number;
  /** Headers on every request (the bearer token). */
  headers?: Record<string, string>;
}

export interface LoadResult {
  /** Requests completed in the warm-up (not in any other number). */
  warmupRequests: number;
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  statusCodes: Record<string, number>;
  /** CPU seconds the generator itself used during the measured run. */
  generatorCpuS: number;
}

type Request = autocannon.Request;

function requestMaker(w: Workload, common: Record<string, string> = {}): (req: Request) => Request {
  const json = { ...common, 'content-type': 'application/json' };
  switch (w.kind) {
    case 'get-user': {
      const ids = (JSON.parse(readFileSync(w.usersFile, 'utf8')) as { id: string }[]).map((u) => u.id);
      const next = zipfSampler(ids.length, w.zipfS, w.seed);
      return (req) => ({ ...req, method: 'GET', path: `/v1/users/${ids[next()] as string}`, headers: common });
    }
    case 'sweep-users': {
      const ids = (JSON.parse(readFileSync(w.usersFile, 'utf8')) as { id: string }[]).map((u) => u.id);
      let n = 0;
      return (req) => ({ ...req, method: 'GET', path: `/v1/users/${ids[n++ % ids.length] as string}`, headers: common });
    }
    case 'create-user': {
      let n = 0;
      return (req) => {
        n += 1;
        const body = JSON.stringify({ email: `bench-${w.runId}-${n}@example.com`, name: `Bench ${n}` });
        return { ...req, method: 'POST', path: '/v1/users', headers: json, body };
      };
    }
    case 'put-doc': {
      const ids = (JSON.parse(readFileSync(w.usersFile, 'utf8')) as { id: string }[]).map((u) => u.id);
      const rand = prng(w.seed);
      let n = 0;
      return (req) => {
        n += 1;
        const id = ids[Math.floor(rand() * ids.length)] as string;
        const body = JSON.stringify({ run: w.runId, n, note: 'bench document', tags: ['a', 'b'] });
        return { ...req, method: 'PUT', path: `/v1/users/${id}/data/bench.${w.runId}.${n % 4}`, headers: json, body };
      };
    }
  }
}

async function fire(spec: LoadSpec, seconds: number, make: (req: Request) => Request): Promise<autocannon.Result> {
  return autocannon({
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: seconds }),
    timeout: 10,
    requests: [{ setupRequest: make }],
  });
}

export async function generate(spec: LoadSpec): Promise<LoadResult> {
  const make = requestMaker(spec.workload, spec.headers);
  // Tells the parent the load starts now (after our own start-up), so its CPU samples cover just the load.
  process.stdout.write('go\n');
  const warm = spec.warmupS > 0 ? await fire(spec, spec.warmupS, make) : undefined;
  const cpu0 = process.cpuUsage();
  const r = await fire(spec, spec.durationS, make);
  const cpu = process.cpuUsage(cpu0);
  const requests = r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx'];
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = s.count ?? 0;
  return {
    warmupRequests: warm ? warm.requests.total : 0,
    requests,
    durationS: r.duration,
    rps: requests / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    statusCodes,
    generatorCpuS: (cpu.user + cpu.system) / 1e6,
  };
}

// Run as a script (not when imported for its types).
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  const result = await generate(spec);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
