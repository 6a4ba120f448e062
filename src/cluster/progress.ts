/**
 * Progress lines for long steps, on stderr so that stdout stays for results
 * (`starting shard-a primary on :15433 … ok (1.2 s)`).
 */

/** Where progress goes; tests pass a silent or collecting sink. */
export type ProgressSink = (line: string) => void;

/** The default sink: one line on stderr. */
export const stderrSink: ProgressSink = (line) => process.stderr.write(`${line}\n`);

/** A sink that drops everything. */
export const silentSink: ProgressSink = () => undefined;

/**
 * Runs `fn`, then reports `label … ok (1.2 s)` or `label … FAILED (…)`. The
 * line is written whole at the end so that steps run in parallel never
 * interleave half-lines.
 */
export async function step<T>(sink: ProgressSink, label: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const took = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  try {
    const result = await fn();
    sink(`${label} … ok (${took()})`);
    return result;
  } catch (err) {
    sink(`${label} … FAILED (${took()})`);
    throw err;
  }
}
