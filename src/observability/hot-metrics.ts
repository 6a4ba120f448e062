/**
 * Metrics bumped on every request, counted in plain numbers and handed to
 * prom-client only when Prometheus scrapes.
 *
 * prom-client hashes a label object on every `inc`/`observe`, even through a
 * label-bound child: on an L1 hit that cost as much as the cache look-up. A
 * cell here is bound to its labels once and bumped with an addition; the
 * registry reads the totals at scrape time (the counter's `collect`, the
 * histogram's `get`), so the exposition is the same text prom-client writes.
 */
import type { Counter, LabelValues, Registry } from 'prom-client';

/** One series of a scrape, as prom-client's registry formats it. */
interface Series {
  metricName: string;
  labels: Partial<Record<string, string | number>>;
  value: number;
}

/** One label set of a hot counter. */
export class CounterCell<L extends string> {
  n = 0;
  constructor(readonly labels: LabelValues<L>) {}
  inc(by = 1): void {
    this.n += by;
  }
}

/** The cells of one prom-client counter; `flushInto` belongs in that counter's `collect`. */
export class CounterCells<L extends string> {
  readonly #cells = new Map<string, CounterCell<L>>();

  /** The cell of `labels`, made on first use; callers on a hot path keep it. */
  cell(labels: LabelValues<L>): CounterCell<L> {
    const key = JSON.stringify(labels);
    let c = this.#cells.get(key);
    if (!c) {
      c = new CounterCell(labels);
      this.#cells.set(key, c);
    }
    return c;
  }

  /** Moves what the cells counted since the last scrape into `counter`. */
  flushInto(counter: Counter<L>): void {
    for (const c of this.#cells.values()) {
      if (c.n === 0) continue;
      counter.inc(c.labels, c.n);
      c.n = 0;
    }
  }
}

/** One label set of a {@link HotHistogram}: per-bucket counts (not cumulative), sum and count. */
export class HistogramCell<L extends string> {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly labels: LabelValues<L>, private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/**
 * A Prometheus histogram whose label sets are {@link HistogramCell}s. It
 * registers itself as a prom-client metric and answers the registry's `get`
 * with the usual `_bucket` (cumulative, `le`), `_sum` and `_count` series.
 */
export class HotHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly #bounds: readonly number[];
  readonly #cells = new Map<string, HistogramCell<L>>();

  constructor(cfg: { name: string; help: string; buckets: number[]; registers: Registry[] }) {
    this.name = cfg.name;
    this.help = cfg.help;
    this.#bounds = [...cfg.buckets].sort((a, b) => a - b);
    // The registry takes any object with a name and a get(); its type names only prom-client's classes.
    for (const r of cfg.registers) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  cell(labels: LabelValues<L>): HistogramCell<L> {
    const key = JSON.stringify(labels);
    let c = this.#cells.get(key);
    if (!c) {
      c = new HistogramCell(labels, this.#bounds);
      this.#cells.set(key, c);
    }
    return c;
  }

  get(): Promise<{ name: string; help: string; type: 'histogram'; values: Series[]; aggregator: 'sum' }> {
    const values: Series[] = [];
    for (const c of this.#cells.values()) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += c.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...c.labels }, value: acc });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...c.labels }, value: c.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...c.labels }, value: c.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...c.labels }, value: c.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' });
  }

  /** Zeroes every cell (callers keep their cells, so they are not dropped). */
  reset(): void {
    for (const c of this.#cells.values()) {
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }
}
