/** Scrapes every app's `/metrics` for `tessera top` (bounded: an app that does not answer is shown down). */
import { parsePromText } from './prom-text.js';
import type { Snapshot } from './frame.js';

/** One app to scrape. */
export interface Target {
  id: string;
  url: string;
}

/** Scrapes each target once, in parallel, each within `timeoutMs`. */
export async function scrape(targets: Target[], timeoutMs = 900): Promise<Snapshot> {
  const at = Date.now();
  const apps = await Promise.all(targets.map(async (t) => {
    try {
      const res = await fetch(`${t.url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return { id: t.id, samples: null, error: `/metrics ${res.status}` };
      return { id: t.id, samples: parsePromText(await res.text()) };
    } catch (err) {
      return { id: t.id, samples: null, error: (err as Error).message };
    }
  }));
  return { at, apps };
}
