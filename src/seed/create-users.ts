/**
 * Fills a stack with users and documents through the public API (so through
 * NGINX, routing and email claims, like real clients), with a bounded number
 * of requests in flight. Used by `tessera seed`.
 */
import { randomBytes } from 'node:crypto';

export interface SeedOptions {
  baseUrl: string;
  /** Bearer token (users:write); none for a stack without authentication. */
  token?: string;
  users: number;
  docsPerUser: number;
  /** Users being created at once; each one's documents follow it in the same slot. */
  concurrency: number;
  /** Called after each user (with its documents) is stored. */
  onUser?: (done: number) => void;
}

export interface SeededUser {
  id: string;
  email: string;
}

export interface SeedResult {
  runId: string;
  users: SeededUser[];
  documents: number;
}

/** Statuses worth another try: NGINX's limit_req (429/503) and a briefly fenced shard (503). */
const RETRYABLE = new Set([429, 502, 503, 504]);
const ATTEMPTS = 4;

/** Creates `users` users (`seed-<runid>-<n>@example.com`) with `docsPerUser` documents each. */
export async function seedUsers(opts: SeedOptions): Promise<SeedResult> {
  const runId = randomBytes(4).toString('hex');
  const users: SeededUser[] = new Array<SeededUser>(opts.users);
  let next = 0;
  let done = 0;
  let documents = 0;
  let failure: Error | undefined;

  const worker = async (): Promise<void> => {
    while (failure === undefined && next < opts.users) {
      const n = next++;
      const email = `seed-${runId}-${n}@example.com`;
      const created = await send(opts, 'POST', '/v1/users', { email, name: `Seed User ${n}`, profile: { seeded: true, n } }, [201]);
      const id = (created as { id: string }).id;
      users[n] = { id, email };
      for (let d = 0; d < opts.docsPerUser; d++) {
        await send(opts, 'PUT', `/v1/users/${id}/data/seed.doc-${d}`, { n, d, note: 'seeded' }, [200, 201]);
        documents += 1;
      }
      done += 1;
      opts.onUser?.(done);
    }
  };
  // The first failure stops every slot; the others finish the request they are in.
  await Promise.all(
    Array.from({ length: Math.min(opts.concurrency, opts.users) }, () =>
      worker().catch((err: unknown) => {
        failure ??= err instanceof Error ? err : new Error(String(err));
      }),
    ),
  );
  if (failure !== undefined) throw new Error(`seeding stopped after ${done} users: ${failure.message}`, { cause: failure });
  return { runId, users, documents };
}

async function send({ baseUrl, token }: SeedOptions, method: string, path: string, body: unknown, ok: number[]): Promise<unknown> {
  let last = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const res = await fetch(new URL(path, baseUrl), {
        method,
        headers: { 'content-type': 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      if (ok.includes(res.status)) return JSON.parse(text) as unknown;
      last = `${method} ${path} → ${res.status} ${text.slice(0, 300)}`;
      if (!RETRYABLE.has(res.status)) break;
    } catch (err) {
      last = `${method} ${path}: ${err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err)}`;
    }
    await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
  }
  throw new Error(last);
}
