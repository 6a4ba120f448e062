/**
 * Client load through NGINX with a ledger of what was acknowledged: creates,
 * PATCHes and document PUTs (each client owns its keys and writes them in
 * sequence, so the last acknowledged value is what must be stored), and
 * reads that must all succeed. Failures are recorded with the shard the
 * answer names, so a test can say which shard's requests may fail.
 */
import { randomUUID } from 'node:crypto';

export interface LedgerOptions {
  base: string;
  headers: Record<string, string>;
  /** Users (id and shard) the patchers, putters and readers work on; created before the load. */
  users: { id: string; shard: string }[];
  creators?: number;
  /** Pause between one client's requests. @default 5 */
  pauseMs?: number;
}

/** One failed request: what, the status (0: no answer) and the shard the answer named. */
export interface Failure {
  op: string;
  status: number;
  shard: string | null;
  body: string;
}

/** What the clients were told. */
export class Ledger {
  /** Acknowledged creates: id → email and shard. */
  readonly created = new Map<string, { email: string; shard: string }>();
  /** Last acknowledged name per patched user. */
  readonly names = new Map<string, string>();
  /** Last acknowledged value per (user, document key). */
  readonly docs = new Map<string, { user: string; key: string; n: number }>();
  readonly failures: Failure[] = [];
  readonly readFailures: Failure[] = [];
  /** Completion times (ms) of every acknowledged write per shard, in order: the longest gap is the pause clients saw. */
  readonly writeTimes = new Map<string, number[]>();
  ok = 0;
  reads = 0;

  /** The longest time between two acknowledged writes to `shard` while the load ran. */
  longestGapMs(shard: string): number {
    const t = this.writeTimes.get(shard) ?? [];
    let gap = 0;
    for (let i = 1; i < t.length; i++) gap = Math.max(gap, t[i]! - t[i - 1]!);
    return gap;
  }
}

async function send(o: LedgerOptions, method: string, path: string, body?: unknown): Promise<{ status: number; shard: string | null; text: string }> {
  try {
    const res = await fetch(`${o.base}${path}`, {
      method,
      headers: { ...o.headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(20_000),
    });
    return { status: res.status, shard: res.headers.get('x-tessera-shard'), text: await res.text() };
  } catch (err) {
    return { status: 0, shard: null, text: (err as Error).message };
  }
}

/** Starts the load; `stop()` ends it after the requests in flight and returns the ledger. */
export function startLedgerLoad(o: LedgerOptions): { ledger: Ledger; stop: () => Promise<Ledger> } {
  const ledger = new Ledger();
  let running = true;
  const pause = () => new Promise((r) => setTimeout(r, o.pauseMs ?? 5));
  const acked = (shard: string | null) => {
    ledger.ok++;
    if (shard) {
      const t = ledger.writeTimes.get(shard) ?? [];
      t.push(Date.now());
      ledger.writeTimes.set(shard, t);
    }
  };
  const loops: Promise<void>[] = [];
  for (let c = 0; c < (o.creators ?? 2); c++) {
    loops.push((async () => {
      while (running) {
        const email = `ledger-${randomUUID().slice(0, 13)}@example.com`;
        const r = await send(o, 'POST', '/v1/users', { email, name: 'Ledger' });
        if (r.status === 201) {
          ledger.created.set((JSON.parse(r.text) as { id: string }).id, { email, shard: r.shard ?? '?' });
          acked(r.shard);
        } else {
          ledger.failures.push({ op: `create ${email}`, status: r.status, shard: r.shard, body: r.text.slice(0, 300) });
        }
        await pause();
      }
    })());
  }
  for (const [i, u] of o.users.entries()) {
    // Even users: a patcher (PATCH name); odd ones: a putter (PUT one document).
    loops.push((async () => {
      for (let n = 1; running; n++) {
        const r = i % 2 === 0
          ? await send(o, 'PATCH', `/v1/users/${u.id}`, { name: `n${n}` })
          : await send(o, 'PUT', `/v1/users/${u.id}/data/ledger`, { n });
        if (r.status === 200 || r.status === 201) {
          if (i % 2 === 0) ledger.names.set(u.id, `n${n}`);
          else ledger.docs.set(u.id, { user: u.id, key: 'ledger', n });
          acked(r.shard);
        } else {
          ledger.failures.push({ op: `${i % 2 === 0 ? 'PATCH' : 'PUT'} ${u.id} n${n}`, status: r.status, shard: r.shard ?? u.shard, body: r.text.slice(0, 300) });
        }
        await pause();
      }
    })());
    // And a reader of the same user.
    loops.push((async () => {
      while (running) {
        const r = await send(o, 'GET', `/v1/users/${u.id}`);
        ledger.reads++;
        if (r.status !== 200) ledger.readFailures.push({ op: `GET ${u.id}`, status: r.status, shard: r.shard ?? u.shard, body: r.text.slice(0, 300) });
        await pause();
      }
    })());
  }
  return {
    ledger,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return ledger;
    },
  };
}
