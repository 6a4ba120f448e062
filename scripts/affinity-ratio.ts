/**
 * The L1 hit ratio with and without NGINX user affinity, on one workload,
 * with 2 and 4 app replicas:
 *
 *   node --import tsx scripts/affinity-ratio.ts [--users 2000] [--requests 20000] [--clients 16] [--zipf 1.0] [--keep]
 *
 * Starts its own local stack in .tessera-affinity (2 shards, no streaming
 * replicas, own ports), creates the users, then for each configuration reads
 * users through NGINX with Zipf-distributed popularity and reports
 * `tessera_cache_requests_total{tier="l1"}` hits / (hits + misses), summed
 * over the replicas (deltas of their /metrics). Between configurations it
 * waits out the L1 TTL so that each starts cold. Prints a Markdown table.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { zipfPicker } from '../load-tests/lib/random.js';
import { down, readStack, up, type StackInfo } from '../src/cluster/index.js';
import { reloadNginxAndSettle } from '../src/cluster/nginx.js';
import { scale } from '../src/cluster/scale.js';
import { clientToken } from '../src/auth/stack-token.js';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '2000' },
    requests: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '16' },
    zipf: { type: 'string', default: '1.0' },
    keep: { type: 'boolean', default: false },
  },
});
const USERS = Number(args.users);
const REQUESTS = Number(args.requests);
const CLIENTS = Number(args.clients);
const ZIPF_S = Number(args.zipf);
const DIR = resolve('.tessera-affinity');
const L1_TTL_MS = 5000; // the apps' TESSERA_L1_TTL_MS default; jitter adds up to 20 %
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Runs `fn` `total` times over `clients` concurrent loops. */
async function pool(total: number, clients: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < total) await fn(next++);
  }));
}

/** L1 hits and misses summed over the replicas' /metrics. */
async function l1Counts(stack: StackInfo): Promise<{ hit: number; miss: number }> {
  const out = { hit: 0, miss: 0 };
  for (const app of stack.apps) {
    const text = await (await fetch(`${app.url}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith('tessera_cache_requests_total{') || !line.includes('tier="l1"')) continue;
      const result = /result="(\w+)"/.exec(line)?.[1];
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (result === 'hit' || result === 'miss') out[result] += value;
    }
  }
  return out;
}

async function measure(stack: StackInfo, ids: string[], affinity: boolean): Promise<{ ratio: number; rps: number; errors: number }> {
  await reloadNginxAndSettle({ ...stack, nginx: { ...stack.nginx, affinity } }, stack.apps);
  await sleep(L1_TTL_MS * 1.2 + 500); // every L1 entry of the previous run has expired
  const before = await l1Counts(stack);
  const pick = zipfPicker(ids.length, ZIPF_S, Math.random); // rank r is user r
  let errors = 0;
  const started = performance.now();
  await pool(REQUESTS, CLIENTS, async () => {
    const res = await fetch(`${stack.nginx.url}/v1/users/${ids[pick()]}`, { headers: auth });
    await res.arrayBuffer();
    if (res.status !== 200) errors++;
  });
  const seconds = (performance.now() - started) / 1000;
  const after = await l1Counts(stack);
  const hit = after.hit - before.hit;
  const miss = after.miss - before.miss;
  return { ratio: hit / (hit + miss), rps: REQUESTS / seconds, errors };
}

/** The bearer token of every request, from the stack's own key. */
let auth: Record<string, string> = {};

async function main(): Promise<void> {
  log(`starting a stack in ${DIR}`);
  await up({
    dir: DIR, shards: 2, replicas: 0, apps: 2, port: 18580, pgBasePort: 25920, redisPort: 16890, appBasePort: 13501,
    // One token reads 20,000 times as fast as it can: far from its per-caller limit on purpose.
    appEnv: { TESSERA_LOG_LEVEL: 'warn', TESSERA_RATE_LIMIT: '1000000' }, log,
  });
  try {
    log(`creating ${USERS} users`);
    const ids: string[] = new Array<string>(USERS);
    const base = readStack(DIR).nginx.url;
    auth = { authorization: `Bearer ${await clientToken({ dir: DIR, scopes: ['users:read', 'users:write'], clientId: 'affinity-ratio' })}` };
    await pool(USERS, 16, async (i) => {
      const res = await fetch(`${base}/v1/users`, {
        method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ email: `aff-${randomUUID()}@example.com`, name: `User ${i}` }),
      });
      if (res.status !== 201) throw new Error(`create user: ${res.status} ${await res.text()}`);
      ids[i] = ((await res.json()) as { id: string }).id;
    });

    const rows: string[] = [];
    for (const apps of [2, 4]) {
      if (readStack(DIR).apps.length !== apps) {
        await scale({ dir: DIR, apps, log });
        await sleep(5500); // NGINX sends to a slot it found empty again after fail_timeout (5 s)
      }
      for (const affinity of [false, true]) {
        const r = await measure(readStack(DIR), ids, affinity);
        const line = `| ${apps} | ${affinity ? 'user affinity (hash $tessera_user consistent)' : 'least_conn'} | ${(100 * r.ratio).toFixed(1)} % | ${r.rps.toFixed(0)} | ${r.errors} |`;
        log(line);
        rows.push(line);
      }
    }
    console.log(`L1 hit ratio, ${REQUESTS} reads of ${USERS} users (Zipf s=${ZIPF_S}), ${CLIENTS} clients, L1 TTL ${L1_TTL_MS} ms\n`);
    console.log('| app replicas | NGINX balancing | L1 hit ratio | req/s | errors |');
    console.log('|---|---|---|---|---|');
    for (const row of rows) console.log(row);
  } finally {
    if (!args.keep) await down({ dir: DIR, purge: true, log });
  }
}

await main();
