/**
 * Client load during the reshard, all through NGINX and all on users in the
 * moving range: a writer at a fixed, bounded rate (open loop: a write stalled
 * by the cutover does not delay the next ones, so the gap between successes
 * shows how long the range was unwritable, to within one tick) and readers
 * that must never fail.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LoadOptions {
  baseUrl: string;
  /** Headers on every request (the bearer token). */
  headers: Record<string, string>;
  /** Ids of users in the moving range. */
  ids: string[];
  writesPerSecond: number;
  readers: number;
  /** Pause between one reader's requests. */
  readIntervalMs?: number;
  /** Writes allowed in flight at once; beyond it a tick is skipped and counted. */
  maxInFlight?: number;
}

export interface WriterStats {
  attempted: number;
  ok: number;
  errors: number;
  skipped: number;
  errorSamples: string[];
  maxLatencyMs: number;
  /** Wall-clock (epoch ms) completion of every successful write, in order. */
  successes: number[];
}

export interface ReaderStats {
  attempted: number;
  ok: number;
  errors: number;
  errorSamples: string[];
}

export interface Load {
  stop(): Promise<{ writer: WriterStats; reader: ReaderStats }>;
}

const REQUEST_TIMEOUT_MS = 15_000;

async function request(method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    return { ok: res.ok, detail: `${method} ${new URL(url).pathname} → ${res.status} ${text.slice(0, 200)}` };
  } catch (err) {
    return { ok: false, detail: `${method} ${new URL(url).pathname} → ${(err as Error).message}` };
  }
}

function sample(list: string[], detail: string): void {
  if (list.length < 10) list.push(detail);
}

export function startLoad(o: LoadOptions): Load {
  if (o.ids.length === 0) throw new Error('no users in the moving range to aim the load at');
  const pick = () => o.ids[Math.floor(Math.random() * o.ids.length)] as string;
  const writer: WriterStats = { attempted: 0, ok: 0, errors: 0, skipped: 0, errorSamples: [], maxLatencyMs: 0, successes: [] };
  const reader: ReaderStats = { attempted: 0, ok: 0, errors: 0, errorSamples: [] };
  const inflight = new Set<Promise<void>>();
  const maxInFlight = o.maxInFlight ?? 200;
  let running = true;

  const write = async (i: number) => {
    const id = pick();
    const started = performance.now();
    // Alternate the two row kinds that live under the user's ksid. Updates
    // only (the seeded `settings` document): the row count of the range stays
    // what the baseline copied, so the moved rows can be checked exactly.
    const r = i % 2 === 0
      ? await request('PATCH', `${o.baseUrl}/v1/users/${id}`, o.headers, { name: `renamed ${i}` })
      : await request('PUT', `${o.baseUrl}/v1/users/${id}/data/settings`, o.headers, { n: i, text: 'updated during the reshard', at: Date.now() });
    writer.maxLatencyMs = Math.max(writer.maxLatencyMs, performance.now() - started);
    if (r.ok) {
      writer.ok++;
      writer.successes.push(Date.now());
    } else {
      writer.errors++;
      sample(writer.errorSamples, r.detail);
    }
  };

  const writerLoop = (async () => {
    const tick = 1000 / o.writesPerSecond;
    const t0 = performance.now();
    for (let i = 0; running; i++) {
      if (inflight.size >= maxInFlight) writer.skipped++;
      else {
        writer.attempted++;
        const p = write(i).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      // Scheduled against the start, so ticks do not drift with event-loop delays.
      await sleep(Math.max(0, t0 + (i + 1) * tick - performance.now()));
    }
  })();

  const readerLoop = async () => {
    while (running) {
      const r = await request('GET', `${o.baseUrl}/v1/users/${pick()}`, o.headers);
      reader.attempted++;
      if (r.ok) reader.ok++;
      else {
        reader.errors++;
        sample(reader.errorSamples, r.detail);
      }
      await sleep(o.readIntervalMs ?? 25);
    }
  };
  const readers = Array.from({ length: o.readers }, () => readerLoop());

  return {
    async stop() {
      running = false;
      await Promise.all([writerLoop, ...readers]);
      await Promise.all([...inflight]);
      writer.successes.sort((a, b) => a - b);
      return { writer, reader };
    },
  };
}

/** Longest gap between consecutive successful writes, and when it started (epoch ms). */
export function longestGap(successes: number[]): { ms: number; from: number; to: number } {
  let best = { ms: 0, from: 0, to: 0 };
  for (let i = 1; i < successes.length; i++) {
    const ms = (successes[i] as number) - (successes[i - 1] as number);
    if (ms > best.ms) best = { ms, from: successes[i - 1] as number, to: successes[i] as number };
  }
  return best;
}

/** The gap between successes that contains instant `t` (epoch ms), or null if `t` is outside them. */
export function gapAround(successes: number[], t: number): { ms: number; from: number; to: number } | null {
  for (let i = 1; i < successes.length; i++) {
    const from = successes[i - 1] as number;
    const to = successes[i] as number;
    if (from <= t && t <= to) return { ms: to - from, from, to };
  }
  return null;
}
