import { describe, expect, it } from 'vitest';
import { planStack, resolveLayoutOptions } from '../../src/cluster/layout.js';
import { changedFlags, describeChanges, flagName, stackFlags } from '../../src/cluster/up-flags.js';

const runtime = { pgRoot: '/tmp/pg', pgOsUser: null, pgBinDir: '/usr/bin', pgVersion: '18' };
const stack = (opts: Parameters<typeof resolveLayoutOptions>[0]) => planStack(resolveLayoutOptions({ dir: '/tmp/s', ...opts }), runtime);

describe('up on an existing stack compares the flags given with the stack', () => {
  it('reads every flag back off the stack file', () => {
    const info = stack({ shards: 3, replicas: 2, apps: 3, appSlots: 5, strategy: 'range', port: 9000, pgBasePort: 20000, redisPort: 7000, appBasePort: 4000, rate: '10r/s', burst: 5, anonRate: '2r/s', anonBurst: 3, affinity: true, exactRanges: true, noAuth: true, durability: 'async', tracing: true, traceSample: 0.1, jaegerPort: 17000 });
    expect(stackFlags(info)).toEqual({
      shards: 3, replicas: 2, apps: 3, appSlots: 5, strategy: 'range', port: 9000, pgBasePort: 20000, redisPort: 7000, appBasePort: 4000, rate: '10r/s', burst: 5, anonRate: '2r/s', anonBurst: 3, affinity: true, exactRanges: true, noAuth: true, durability: 'async',
      tracing: true, traceSample: 0.1, jaegerPort: 17000, monitoring: false, prometheusPort: 9090,
    });
    expect(stackFlags(stack({}))).toMatchObject({ shards: 2, replicas: 1, apps: 2, appSlots: 4, strategy: 'hash', port: 8080, rate: '2000r/s', burst: 4000, affinity: false, exactRanges: false, noAuth: false, durability: 'sync', tracing: false, monitoring: false });
  });

  it('finds no change when no flag is given, or each given flag says what the stack is', () => {
    const info = stack({ shards: 3, port: 9000 });
    expect(changedFlags(info, {})).toEqual([]);
    expect(changedFlags(info, { dir: '/elsewhere', shards: 3, port: 9000, replicas: 1, strategy: 'hash' })).toEqual([]);
  });

  it('names each flag that differs, with what the stack has', () => {
    const changes = changedFlags(stack({}), { shards: 3, apps: 2, rate: '100r/s', affinity: true });
    expect(changes).toEqual([
      { flag: 'shards', was: '2', asked: '3' },
      { flag: 'rate', was: '2000r/s', asked: '100r/s' },
      { flag: 'affinity', was: 'false', asked: 'true' },
    ]);
    expect(describeChanges(changes)).toBe('--shards 3 (the stack has 2), --rate 100r/s (the stack has 2000r/s), --affinity true (the stack has false)');
    expect(flagName('pgBasePort')).toBe('--pg-base-port');
  });
});
