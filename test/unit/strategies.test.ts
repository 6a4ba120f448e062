import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ksidHex } from '../../src/routing/keyrange.js';
import { getStrategy, strategyNames } from '../../src/routing/registry.js';
import type { Hash64 } from '../../src/routing/strategies/hash.js';
import { emailKsid, loadHasher } from '../../src/routing/strategies/hash.js';
import { uuidBytes } from '../../src/routing/strategy.js';

// Golden values pin the hash: changing them moves every stored row.
describe('sharding strategies', () => {
  let hash: Hash64;
  beforeAll(async () => {
    hash = await loadHasher();
  });

  it('registers hash and range by name', () => {
    expect(strategyNames().sort()).toEqual(['hash', 'range']);
  });

  it('uses xxHash64 with seed 0 (reference value of the empty input)', () => {
    expect(ksidHex(hash(new Uint8Array()))).toBe('ef46db3751d8e999');
  });

  it('hash: pins the keyspace ids of known user ids', async () => {
    const s = await getStrategy('hash');
    expect(ksidHex(s.ksidOf('00000000-0000-7000-8000-000000000000'))).toBe('48dbe1b2f8fc9873');
    expect(ksidHex(s.ksidOf('019a6f1e-8c2b-7d3e-9f00-0123456789ab'))).toBe('8d23cc9c2d3fb814');
    expect(ksidHex(s.ksidOf('ffffffff-ffff-7fff-bfff-ffffffffffff'))).toBe('6b6f005ed3a3be72');
  });

  it('hash: upper- and lower-case spellings of an id route alike', async () => {
    const s = await getStrategy('hash');
    expect(s.ksidOf('019A6F1E-8C2B-7D3E-9F00-0123456789AB')).toBe(s.ksidOf('019a6f1e-8c2b-7d3e-9f00-0123456789ab'));
  });

  it('range: the keyspace id is the top 64 bits of the id, so it follows creation time', async () => {
    const s = await getStrategy('range');
    expect(ksidHex(s.ksidOf('019a6f1e-8c2b-7d3e-9f00-0123456789ab'))).toBe('019a6f1e8c2b7d3e');
    expect(s.ksidOf('019a6f1e-8c2c-7000-8000-000000000000')).toBeGreaterThan(s.ksidOf('019a6f1e-8c2b-7fff-bfff-ffffffffffff'));
  });

  it('emails hash case-insensitively and ignore surrounding spaces', () => {
    expect(ksidHex(emailKsid(hash, 'ada@example.com'))).toBe('d9dac4843d038bcd');
    expect(emailKsid(hash, ' Ada@Example.COM ')).toBe(emailKsid(hash, 'ada@example.com'));
  });

  it('refuses an unknown strategy with the known names', async () => {
    await expect(getStrategy('modulo')).rejects.toThrow(/hash, range/);
  });
});

describe('uuidBytes', () => {
  it('gives the 16 bytes of any canonical UUID, in either case', () => {
    for (let i = 0; i < 200; i++) {
      const id = randomUUID();
      const want = Buffer.from(id.replace(/-/g, ''), 'hex');
      expect(Buffer.from(uuidBytes(id))).toEqual(want);
      expect(Buffer.from(uuidBytes(id.toUpperCase()))).toEqual(want);
    }
  });

  it('refuses what is not a canonical UUID', () => {
    const good = '0190a6f2-1c2b-7d3e-8f40-123456789abc';
    for (const bad of ['', good.slice(1), `${good}0`, good.replace(/-/g, ''), good.replace('-', '_'), good.replace('a', 'g'), good.replace('0', '\u0660'), good.replace('1', '\u{1F600}').slice(0, 36)]) {
      expect(() => uuidBytes(bad), bad).toThrow(TypeError);
    }
  });
});
