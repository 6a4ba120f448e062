/**
 * Every case of the benchmark: what it measures, what it is compared with
 * (its ceiling, or for NGINX and scaling cases the run it extends) and the
 * goal from issues 3 and 6. The runner decides how to run them; the report
 * reads the ratios off this table.
 */

export type CaseId =
  | 'bare' | 'redis-get' | 'pg-select' | 'pg-insert' | 'nginx-minimal' | 'nginx-bare'
  | 'get-l1-open' | 'get-l1-auth' | 'get-l1-trace-1pct' | 'get-l1-trace-100pct' | 'get-l1' | 'get-l1-nginx' | 'get-l1-nginx-2apps' | 'get-l1-nginx-4apps'
  | 'get-l2' | 'get-l2-nginx'
  | 'get-miss' | 'get-miss-nginx'
  | 'get-default'
  | 'create' | 'create-nginx' | 'create-async'
  | 'put-doc' | 'put-doc-nginx' | 'put-doc-async'
  | 'create-3shards' | 'put-doc-3shards';

export interface CaseDef {
  id: CaseId;
  title: string;
  kind: 'ceiling' | 'tessera';
  /** The case this one's requests/s is divided by (the bare handler for ceilings). */
  vs: CaseId;
  /** Lowest acceptable ratio, when the issues set one. */
  goal?: number;
  /** What the goal is called in the output. */
  goalName?: string;
  /** Why the ratio is what it is, when the goal is missed: what this case does per request beyond its reference. */
  bound?: string;
}

const NGINX_BOUND =
  'NGINX runs on the same server core as the app here, so every proxied request spends server-core CPU in NGINX ' +
  '(parse, upstream keepalive, JSON access-log line, limit_req) that the direct run gives to the app; on a host where NGINX has cores of its own this shows up as latency, not throughput.';

const nginxCase = (id: CaseId, direct: CaseId, title: string): CaseDef => ({
  id, title, kind: 'tessera', vs: direct, goal: 0.7, goalName: 'NGINX costs ≤ 30% vs direct', bound: NGINX_BOUND,
});

export const CASES: readonly CaseDef[] = [
  { id: 'bare', title: 'ceiling: bare Fastify, constant JSON user', kind: 'ceiling', vs: 'bare' },
  { id: 'nginx-minimal', title: 'ceiling: minimal NGINX proxy (keep-alive, no log, no limits) → bare handler', kind: 'ceiling', vs: 'bare' },
  {
    id: 'nginx-bare', title: 'ceiling: Tessera\'s NGINX config → bare handler', kind: 'ceiling', vs: 'nginx-minimal', goal: 0.9,
    goalName: 'Tessera\'s NGINX config costs ≤ 10% more than a minimal proxy',
    bound:
      'what the config does per request beyond proxying: the JSON access-log line (escaped, buffered), two limit_req zones ' +
      '(a shared-memory look-up and update each), the request-id and rate-limit-key maps, six proxy_set_header and two add_header.',
  },
  { id: 'redis-get', title: 'ceiling: bare + one ioredis GET', kind: 'ceiling', vs: 'bare' },
  { id: 'pg-select', title: 'ceiling: bare + one pg primary-key SELECT', kind: 'ceiling', vs: 'bare' },
  { id: 'pg-insert', title: 'ceiling: bare + one pg INSERT', kind: 'ceiling', vs: 'bare' },
  {
    id: 'get-l1-open', title: 'GET user, L1 hit, authentication and rate limits off', kind: 'tessera', vs: 'bare',
  },
  {
    id: 'get-l1-auth', title: 'GET user, L1 hit, authentication and rate limits on', kind: 'tessera', vs: 'get-l1-open', goal: 0.9,
    goalName: 'auth + per-caller limits cost ≤ 10% of an L1-hit GET',
    bound:
      'per request: the bearer token looked up in the verified-token LRU and its expiry checked, the per-caller sliding-window ' +
      'count (a Map look-up and a few arithmetic operations), the scope and user checks, and two X-RateLimit-* response headers.',
  },
  {
    id: 'get-l1-trace-1pct', title: 'GET user, L1 hit, tracing on, 1% of traces sampled', kind: 'tessera', vs: 'get-l1-auth', goal: 0.95,
    goalName: 'tracing at 1% sampling costs ≤ 5% of an L1-hit GET',
    bound:
      'the unsampled 99% make no span and enter no context (the sampler decides first), but once one sampled request has entered a ' +
      'trace context, Node 20\'s AsyncLocalStorage runs its async hooks for every async resource of the process (each socket, HTTP ' +
      'parser and promise), sampled or not; the 1% also record two spans each and export them (protobuf over HTTP, batched). ' +
      'Node 22\'s AsyncContextFrame removes the hook cost.',
  },
  {
    id: 'get-l1-trace-100pct', title: 'GET user, L1 hit, tracing on, every trace sampled', kind: 'tessera', vs: 'get-l1-auth',
    bound:
      'every request records two spans with their attributes and exports them (protobuf over HTTP, batched, to a sink that keeps ' +
      'nothing): the cost of tracing everything, for comparison with 1%.',
  },
  {
    id: 'get-l1', title: 'GET user, L1 hit', kind: 'tessera', vs: 'bare', goal: 0.75, goalName: 'L1-hit GET ≥ 75% of bare handler',
    bound:
      'what runs around the cache hit that the bare handler does not run: Fastify\'s request lifecycle with six hooks (drain, load ' +
      'shedding, authentication, two onSend, onResponse), TypeBox validation of params and headers, the cached token verdict and the ' +
      'per-caller count, eight response headers instead of two (each checked and formatted by Node\'s HTTP server), the L1 look-up ' +
      '(lru-cache with a TTL) and the id\'s xxHash64 for x-tessera-shard. A CPU profile of this case (--cpu-prof) shows the ' +
      'response\'s writev syscall at a quarter of the app\'s CPU and no other single part above 5%: the remaining cost is spread over ' +
      'the lifecycle, which is what shipping validation, auth, limits, metrics and request ids costs.',
  },
  nginxCase('get-l1-nginx', 'get-l1', 'GET user, L1 hit, via NGINX (1 app)'),
  {
    id: 'get-l1-nginx-2apps', title: 'GET user, L1 hit, via NGINX, 2 apps', kind: 'tessera', vs: 'get-l1-nginx',
    bound: 'all replicas share the same server core(s) here: more replicas cannot add CPU, so this shows the cost of spreading, not scale-out.',
  },
  {
    id: 'get-l1-nginx-4apps', title: 'GET user, L1 hit, via NGINX, 4 apps', kind: 'tessera', vs: 'get-l1-nginx',
    bound: 'all replicas share the same server core(s) here: more replicas cannot add CPU, so this shows the cost of spreading, not scale-out.',
  },
  {
    id: 'get-l2', title: 'GET user, L2 hit (L1 off)', kind: 'tessera', vs: 'redis-get', goal: 0.8, goalName: 'L2-hit GET ≥ 80% of ioredis GET',
    bound:
      'the per-request overhead of the L1 case on top of the Redis round trip (GETs of requests that arrive together share one write: ' +
      'ioredis auto-pipelining), plus the L1 look-up that misses, the single-flight map and decoding the versioned entry.',
  },
  nginxCase('get-l2-nginx', 'get-l2', 'GET user, L2 hit, via NGINX'),
  {
    id: 'get-miss', title: 'GET user, miss → replica (L1 off, L2 TTL 1 ms)', kind: 'tessera', vs: 'pg-select', goal: 0.8, goalName: 'miss GET ≥ 80% of pg SELECT',
    bound:
      'a miss costs one Redis round trip beside the replica SELECT before it answers (the L2 GET that misses; the compare-and-set ' +
      'fill runs after the answer, but on the same core), plus replica choice by measured lag and the per-request overhead of the ' +
      'L1 case; the baseline does the SELECT alone.',
  },
  nginxCase('get-miss-nginx', 'get-miss', 'GET user, miss, via NGINX'),
  { id: 'get-default', title: 'GET user, default cache settings (tiers as they fall)', kind: 'tessera', vs: 'bare' },
  {
    id: 'create', title: 'POST user (email claim + insert)', kind: 'tessera', vs: 'pg-insert', goal: 0.45, goalName: 'create ≥ 45% of pg INSERT',
    bound:
      'with the hash strategy a create commits once, as the baseline does, and in one round trip to the primary (BEGIN; the claim-and-user ' +
      'INSERT with its two fence-trigger checks; COMMIT; the WAL position for the read-your-writes token, as one simple query), but then ' +
      'makes a Redis round trip (each key\'s L2 floor with its invalidation PUBLISH in one script, both keys in one pipelined write) ' +
      'before it answers, and it parses, scans and validates a JSON body and checks a token; the baseline is one autocommit INSERT. ' +
      'Measured on this machine, client side, sequentially on one connection: a PostgreSQL round trip costs node-postgres about 100 µs ' +
      'of CPU and a Redis round trip ioredis about 60 µs; all of it shares the one server core with PostgreSQL and Redis here.',
  },
  nginxCase('create-nginx', 'create', 'POST user via NGINX'),
  { id: 'put-doc', title: 'PUT document (upsert)', kind: 'tessera', vs: 'pg-insert' },
  nginxCase('put-doc-nginx', 'put-doc', 'PUT document via NGINX'),
  // What synchronous replication costs writes: the same case with every shard async (commits do not
  // wait for a replica), against the shipped default (sync). A ratio of 1.5 means sync writes run at 2/3 the rate.
  { id: 'create-async', title: 'POST user, shards async (commits wait for no replica)', kind: 'tessera', vs: 'create' },
  { id: 'put-doc-async', title: 'PUT document, shards async (commits wait for no replica)', kind: 'tessera', vs: 'put-doc' },
  // The capacity model's shard check: the same writes on a stack of three shards, against two.
  // The model says CPU per request does not depend on the shard count and the hash spreads it evenly.
  { id: 'create-3shards', title: 'POST user, 3 shards', kind: 'tessera', vs: 'create' },
  { id: 'put-doc-3shards', title: 'PUT document, 3 shards', kind: 'tessera', vs: 'put-doc' },
];

export const CASE_IDS: readonly CaseId[] = CASES.map((c) => c.id);

export function caseDef(id: CaseId): CaseDef {
  const def = CASES.find((c) => c.id === id);
  if (!def) throw new Error(`unknown case ${id}`);
  return def;
}

/** The cases asked for plus every case their ratios need, in table order. */
export function withReferences(asked: readonly CaseId[]): CaseId[] {
  const need = new Set<CaseId>();
  const add = (id: CaseId): void => {
    if (need.has(id)) return;
    need.add(id);
    add(caseDef(id).vs);
  };
  asked.forEach(add);
  return CASE_IDS.filter((id) => need.has(id));
}

export function parseCaseList(text: string): CaseId[] {
  const ids = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of ids) if (!CASE_IDS.includes(id as CaseId)) throw new Error(`unknown case "${id}" (known: ${CASE_IDS.join(', ')})`);
  return ids as CaseId[];
}
