/**
 * Progress of long phases: one rewritten line (`\r`) on a terminal, JSON lines
 * (structured logs) otherwise. Everything goes to stderr; stdout is for results.
 */

/** A progress sample of one workflow. */
export interface ProgressSample {
  workflow: string;
  phase: string;
  done: number;
  total: number;
  unit: string;
}

/** Where a workflow reports progress and events. */
export interface Reporter {
  progress(sample: ProgressSample): void;
  /** A finished step or a notable event (also ends a progress line). */
  event(workflow: string, message: string, fields?: Record<string, unknown>): void;
}

/** Reporter for the CLI: TTY line with rate and ETA, or JSON lines. */
export function createReporter(stream: NodeJS.WriteStream = process.stderr, tty = Boolean(stream.isTTY)): Reporter {
  let first: { at: number; done: number; key: string } | undefined;
  let lastJson = 0;
  let lineOpen = false;
  const endLine = () => {
    if (lineOpen) stream.write('\n');
    lineOpen = false;
  };
  return {
    progress(s) {
      const key = `${s.workflow}:${s.phase}`;
      const now = performance.now();
      if (!first || first.key !== key) first = { at: now, done: s.done, key };
      const secs = (now - first.at) / 1000;
      const rate = secs > 0.5 ? (s.done - first.done) / secs : 0;
      const eta = rate > 0 && s.total > s.done ? (s.total - s.done) / rate : null;
      if (tty) {
        const pct = s.total > 0 ? ` (${Math.min(100, (100 * s.done) / s.total).toFixed(0)}%)` : '';
        stream.write(`\r${s.workflow} ${s.phase}: ${s.done}/${s.total} ${s.unit}${pct}, ${rate.toFixed(0)} ${s.unit}/s${eta !== null ? `, ETA ${eta.toFixed(0)} s` : ''}   `);
        lineOpen = true;
      } else if (now - lastJson >= 1000 || s.done >= s.total) {
        lastJson = now;
        stream.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'info', ...s, rate: Math.round(rate), etaS: eta === null ? null : Math.round(eta) })}\n`);
      }
    },
    event(workflow, message, fields = {}) {
      if (tty) {
        endLine();
        stream.write(`${workflow}: ${message}\n`);
      } else {
        stream.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'info', workflow, msg: message, ...fields })}\n`);
      }
    },
  };
}

/** A reporter that drops everything (library callers, tests). */
export const silentReporter: Reporter = { progress: () => undefined, event: () => undefined };
