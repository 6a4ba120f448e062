import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterCells, HotHistogram } from '../../src/observability/hot-metrics.js';

const BUCKETS = [0.001, 0.01, 0.1];
const SAMPLES = [0.0005, 0.001, 0.002, 0.05, 0.05, 3];

/** The exposition text of one registry, without HELP/TYPE lines. */
async function series(r: Registry): Promise<string[]> {
  return (await r.metrics()).split('\n').filter((l) => l && !l.startsWith('#'));
}

/** The same series with each line's labels in name order (their order in the text means nothing to Prometheus). */
async function sortedLabels(r: Registry): Promise<string[]> {
  return (await series(r)).map((l) => l.replace(/\{(.*)\}/, (_m, inner: string) => `{${inner.split(',').sort().join(',')}}`));
}

describe('hot metrics', () => {
  it('a hot histogram scrapes exactly as a prom-client histogram fed the same values', async () => {
    const ours = new Registry();
    ours.setDefaultLabels({ app: 'a1' });
    const hot = new HotHistogram<'route'>({ name: 'h_seconds', help: 'h', buckets: BUCKETS, registers: [ours] });
    const theirs = new Registry();
    theirs.setDefaultLabels({ app: 'a1' });
    const ref = new Histogram({ name: 'h_seconds', help: 'h', buckets: BUCKETS, labelNames: ['route'], registers: [theirs] });
    for (const route of ['/a', '/b']) {
      const cell = hot.cell({ route });
      for (const v of SAMPLES) {
        cell.observe(v);
        ref.observe({ route }, v);
      }
    }
    expect(await sortedLabels(ours)).toEqual(await sortedLabels(theirs));
    expect(await series(ours)).toContain('h_seconds_bucket{le="0.01",route="/a",app="a1"} 3');
  });

  it('counter cells reach the counter at each scrape, and only what they counted since the last', async () => {
    const r = new Registry();
    const cells = new CounterCells<'tier'>();
    new Counter({ name: 'c_total', help: 'c', labelNames: ['tier'], registers: [r], collect() { cells.flushInto(this); } });
    const l1 = cells.cell({ tier: 'l1' });
    expect(cells.cell({ tier: 'l1' })).toBe(l1);
    for (let i = 0; i < 5; i++) l1.inc();
    cells.cell({ tier: 'l2' }).inc(2);
    expect(await series(r)).toEqual(['c_total{tier="l1"} 5', 'c_total{tier="l2"} 2']);
    l1.inc();
    expect(await series(r)).toEqual(['c_total{tier="l1"} 6', 'c_total{tier="l2"} 2']);
  });

  it('a reset histogram keeps the cells callers hold, zeroed, and counts what they observe next', async () => {
    const r = new Registry();
    const hot = new HotHistogram<'route'>({ name: 'h_seconds', help: 'h', buckets: BUCKETS, registers: [r] });
    const cell = hot.cell({ route: '/a' });
    cell.observe(0.05);
    r.resetMetrics();
    expect(await series(r)).toContain('h_seconds_count{route="/a"} 0');
    cell.observe(0.002);
    expect(await series(r)).toContain('h_seconds_count{route="/a"} 1');
    expect(await series(r)).toContain('h_seconds_bucket{le="0.01",route="/a"} 1');
  });
});
