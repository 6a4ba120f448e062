import { beforeAll, describe, expect, it } from 'vitest';
import { parseKeyRange } from '../../src/routing/keyrange.js';
import { getStrategy } from '../../src/routing/registry.js';
import { Router } from '../../src/routing/router.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import type { Hash64 } from '../../src/routing/strategies/hash.js';
import { loadHasher } from '../../src/routing/strategies/hash.js';

const twoShards = (version = 1) =>
  ShardMap.fromRecord({ version, keyspace: 'users', strategy: 'hash', ranges: [{ range: '-80', shard: 'a' }, { range: '80-', shard: 'b' }] });

describe('shard map', () => {
  it('routes each keyspace id to the range that holds it, edges included', () => {
    const map = twoShards();
    expect(map.entryFor(0n).shard).toBe('a');
    expect(map.entryFor(0x7fffffffffffffffn).shard).toBe('a');
    expect(map.entryFor(0x8000000000000000n).shard).toBe('b');
    expect(map.entryFor(0xffffffffffffffffn).shard).toBe('b');
  });

  it('finds the owner among many ranges by binary search', () => {
    const ranges = ['-20', '20-40', '40-60', '60-80', '80-a0', 'a0-c0', 'c0-e0', 'e0-'].map((r, i) => ({ range: r, shard: `s${i % 3}` }));
    const map = ShardMap.fromRecord({ version: 3, keyspace: 'users', strategy: 'range', ranges });
    for (let i = 0; i < 8; i++) {
      const lo = parseKeyRange(ranges[i]!.range).lo;
      expect(map.entryFor(lo).shard).toBe(`s${i % 3}`);
      expect(map.entryFor(lo + 12345n).shard).toBe(`s${i % 3}`);
    }
    expect(map.shards()).toEqual(['s0', 's1', 's2']);
    expect(map.rangesOf('s0')).toHaveLength(3);
  });

  it('refuses maps with a gap, an overlap or an uncovered end', () => {
    const rec = (ranges: string[]) => ({ version: 1, keyspace: 'users', strategy: 'hash', ranges: ranges.map((range) => ({ range, shard: 'a' })) });
    expect(() => ShardMap.fromRecord(rec(['-40', '80-']))).toThrow(/gap/);
    expect(() => ShardMap.fromRecord(rec(['-80', '40-']))).toThrow(/overlap/);
    expect(() => ShardMap.fromRecord(rec(['-80']))).toThrow(/not covered/);
  });

  it('round-trips through its catalog record', () => {
    expect(ShardMap.fromRecord(twoShards(4).toRecord()).toRecord()).toEqual(twoShards(4).toRecord());
  });
});

describe('router', () => {
  let hash: Hash64;
  beforeAll(async () => {
    hash = await loadHasher();
  });

  it('routes users by their keyspace id and reports the map version it used', async () => {
    const router = new Router(await getStrategy('hash'), hash, twoShards());
    const dest = router.routeUser('019a6f1e-8c2b-7d3e-9f00-0123456789ab'); // ksid 8d23… → b
    expect(dest).toMatchObject({ kind: 'shard', shard: 'b', mapVersion: 1 });
    expect(router.routeUser('00000000-0000-7000-8000-000000000000')).toMatchObject({ shard: 'a' }); // 48db… → a
  });

  it('routes email lookups by the hash of the email whatever the user strategy', async () => {
    const router = new Router(await getStrategy('range'), hash, twoShards());
    expect(router.routeEmail('ADA@example.com')).toMatchObject({ kind: 'shard', shard: 'b' }); // d9da… → b
  });

  it('only ever moves forward to a newer map version', async () => {
    const router = new Router(await getStrategy('hash'), hash, twoShards(2));
    expect(router.useMap(twoShards(1))).toBe(false);
    expect(router.useMap(twoShards(2))).toBe(false);
    expect(router.useMap(twoShards(3))).toBe(true);
    expect(router.map.version).toBe(3);
  });

  it('scatters to every shard of the map', async () => {
    const router = new Router(await getStrategy('hash'), hash, twoShards());
    expect(router.routeAll()).toEqual({ kind: 'all', shards: ['a', 'b'], mapVersion: 1 });
  });
});
