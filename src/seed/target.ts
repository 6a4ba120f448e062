/**
 * Which stack a seed (or a k6 run, via scripts/load.mjs) targets, and whether
 * it is ready: `--base-url`, else `BASE_URL`, else the NGINX front that
 * `tessera up` recorded in `<stack-dir>/stack.json`; then `/readyz` must say 200.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The stack did not answer `/readyz` with 200. */
export class NotReadyError extends Error {
  constructor(baseUrl: string, detail: string, options?: ErrorOptions) {
    super(`${baseUrl}/readyz is not ready (${detail}); run \`npm run up\` first, or pass --base-url`, options);
    this.name = 'NotReadyError';
  }
}

/** The target's origin. Throws with what to do when none is configured or it is not an http(s) URL. */
export function resolveBaseUrl(flag: string | undefined, env: NodeJS.ProcessEnv, stackDir: string): string {
  const chosen = flag ?? (env.BASE_URL === '' ? undefined : env.BASE_URL) ?? fromStackFile(stackDir);
  if (chosen === undefined) {
    throw new Error(`no base URL: pass --base-url, set BASE_URL, or run \`npm run up\` (which writes ${join(stackDir, 'stack.json')})`);
  }
  let url: URL;
  try {
    url = new URL(chosen);
  } catch {
    throw new Error(`invalid base URL "${chosen}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`base URL must be http(s): "${chosen}"`);
  return url.origin;
}

function fromStackFile(stackDir: string): string | undefined {
  const file = join(stackDir, 'stack.json');
  if (!existsSync(file)) return undefined;
  const stack = JSON.parse(readFileSync(file, 'utf8')) as { nginx?: { url?: string } };
  return stack.nginx?.url;
}

/** Resolves when `<baseUrl>/readyz` answers 200; throws {@link NotReadyError} otherwise. */
export async function assertReady(baseUrl: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(new URL('/readyz', baseUrl), { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
  } catch (err) {
    const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    throw new NotReadyError(baseUrl, cause, { cause: err });
  }
  if (res.status !== 200) throw new NotReadyError(baseUrl, `status ${res.status}`);
}
