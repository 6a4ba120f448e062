/**
 * Progress of a long batch job on stderr: one line rewritten in place on a
 * terminal, structured JSON lines otherwise (CI logs, pipes), at most a few
 * times a second either way.
 */

/** Reports `done` of `total` items. */
export interface Progress {
  update(done: number): void;
  /** Writes the final line. */
  finish(done: number): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  unit: string;
  stream?: NodeJS.WriteStream;
  /** @default stream.isTTY */
  tty?: boolean;
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? stream.isTTY === true;
  const started = performance.now();
  // A TTY line is cheap to redraw; JSON lines are kept to one a second so logs stay readable.
  const everyMs = tty ? 200 : 1000;
  // Starting at `started` skips a first line whose rate and ETA would mean nothing.
  let lastAt = started;

  const stats = (done: number): { elapsedS: number; rate: number; etaS: number } => {
    const elapsedS = (performance.now() - started) / 1000;
    const rate = elapsedS > 0 ? done / elapsedS : 0;
    return { elapsedS, rate, etaS: rate > 0 ? (opts.total - done) / rate : Number.POSITIVE_INFINITY };
  };
  const write = (done: number, final: boolean): void => {
    const { elapsedS, rate, etaS } = stats(done);
    if (tty) {
      const pct = opts.total === 0 ? 100 : (done / opts.total) * 100;
      const eta = final ? `in ${elapsedS.toFixed(1)} s` : `ETA ${Number.isFinite(etaS) ? `${etaS.toFixed(0)} s` : '?'}`;
      stream.write(`\r${opts.label}: ${done}/${opts.total} ${opts.unit} (${pct.toFixed(1)}%) ${rate.toFixed(0)}/s ${eta}\x1b[K${final ? '\n' : ''}`);
    } else {
      stream.write(
        `${JSON.stringify({
          msg: final ? `${opts.label} done` : `${opts.label} progress`,
          done,
          total: opts.total,
          unit: opts.unit,
          ratePerSec: Math.round(rate),
          ...(final ? { elapsedSec: Number(elapsedS.toFixed(1)) } : { etaSec: Number.isFinite(etaS) ? Math.round(etaS) : null }),
        })}\n`,
      );
    }
  };
  return {
    update(done) {
      const now = performance.now();
      if (now - lastAt < everyMs) return;
      lastAt = now;
      write(done, false);
    },
    finish(done) {
      write(done, true);
    },
  };
}
