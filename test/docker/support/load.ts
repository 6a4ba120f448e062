/**
 * A steady request load against the Docker stack's NGINX while something is
 * done to the stack (a replica killed, scaling, a reshard). Clients reuse
 * their keep-alive connections as any HTTP client does, never resend, and
 * count as a failure any network error or any status other than the one
 * expected. The load starts, runs until `before` requests have succeeded,
 * does the action, and runs until `after` more have: bounded by counts, not
 * by sleeps.
 */
import { randomUUID } from 'node:crypto';
import { authHeaders } from './auth.js';
import { waitFor } from './compose.js';

export type Op = 'get' | 'put' | 'post';

/** What the load saw. */
export interface LoadStats {
  ok: number;
  /** One line per failed request: method, path, status or error. */
  failures: string[];
  /** Responses per replica (X-Tessera-App). */
  byApp: Map<string, number>;
  /** Every write that was acknowledged (2xx): what a later read must find. */
  acked: AckedWrite[];
}

/** An acknowledged write. */
export type AckedWrite =
  | { kind: 'user'; id: string; email: string }
  | { kind: 'doc'; userId: string; key: string; value: { at: string } };

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** One request of the mix; returns the replica that served it, or throws describing the failure. */
async function request(base: string, users: readonly string[], op: Op, stats: LoadStats): Promise<string> {
  const id = pick(users);
  const at = randomUUID();
  const email = `load-${at}@example.com`;
  // A key of its own per PUT: every acknowledged document can be checked afterwards.
  const key = `load-${at}`;
  const [method, path, body, expected] =
    op === 'get' ? ['GET', `/v1/users/${id}`, undefined, [200]]
      : op === 'put' ? ['PUT', `/v1/users/${id}/data/${key}`, JSON.stringify({ at }), [201]]
        : ['POST', '/v1/users', JSON.stringify({ email, name: 'Docker load' }), [201]];
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method, body, headers: { ...(body && { 'content-type': 'application/json' }), ...(await authHeaders()) }, signal: AbortSignal.timeout(20_000),
    });
  } catch (err) {
    throw new Error(`${method} ${path}: ${(err as Error).message} (${String((err as Error).cause ?? '')})`);
  }
  const text = await res.text();
  if (!expected.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  if (op === 'post') stats.acked.push({ kind: 'user', id: (JSON.parse(text) as { id: string }).id, email });
  if (op === 'put') stats.acked.push({ kind: 'doc', userId: id, key, value: { at } });
  return res.headers.get('x-tessera-app') ?? '?';
}

/**
 * Runs `clients` request loops of `ops` (over `users`) around `action`: until
 * `before` requests succeeded, then the action, then until `after` more
 * succeeded. Returns the action's result with the load's stats.
 */
export async function underLoad<T>(
  base: string,
  users: readonly string[],
  ops: readonly Op[],
  action: () => Promise<T>,
  opts: { clients?: number; before?: number; after?: number; timeoutMs?: number } = {},
): Promise<{ result: T; stats: LoadStats }> {
  const stats: LoadStats = { ok: 0, failures: [], byApp: new Map(), acked: [] };
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const app = await request(base, users, pick(ops), stats);
        stats.ok++;
        stats.byApp.set(app, (stats.byApp.get(app) ?? 0) + 1);
      } catch (err) {
        stats.failures.push((err as Error).message);
      }
    }
  };
  const loops = Array.from({ length: opts.clients ?? 12 }, loop);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  try {
    const before = opts.before ?? 100;
    await waitFor(`${before} requests through the load before the action`, timeoutMs, () => (stats.ok >= before ? true : undefined), 50);
    const result = await action();
    const after = stats.ok + (opts.after ?? 100);
    await waitFor(`${opts.after ?? 100} more requests after the action`, timeoutMs, () => (stats.ok >= after ? true : undefined), 50);
    return { result, stats };
  } finally {
    running = false;
    await Promise.all(loops);
    console.error(`[docker] load: ${stats.ok} ok, ${stats.failures.length} failed, by replica ${JSON.stringify(Object.fromEntries(stats.byApp))}`);
  }
}
