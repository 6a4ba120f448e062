import { describe, expect, it } from 'vitest';
import { KSID_END, formatKeyRange, ksidFromSql, ksidToSql, parseKeyRange, rangeContains, rangesOverlap, splitEvenly } from '../../src/routing/keyrange.js';

describe('key ranges', () => {
  it('parses Vitess notation with open ends', () => {
    expect(parseKeyRange('-80')).toEqual({ lo: 0n, hi: 0x8000000000000000n });
    expect(parseKeyRange('80-')).toEqual({ lo: 0x8000000000000000n, hi: KSID_END });
    expect(parseKeyRange('40-c0')).toEqual({ lo: 0x4000000000000000n, hi: 0xc000000000000000n });
    expect(parseKeyRange('-')).toEqual({ lo: 0n, hi: KSID_END });
  });

  it('formats boundaries as the shortest exact byte prefix', () => {
    expect(formatKeyRange({ lo: 0n, hi: 0x8000000000000000n })).toBe('-80');
    expect(formatKeyRange({ lo: 0x5555555555555555n, hi: 0xaaaaaaaaaaaaaaaan })).toBe('5555555555555555-aaaaaaaaaaaaaaaa');
    expect(formatKeyRange({ lo: 0x0100000000000000n, hi: KSID_END })).toBe('01-');
  });

  it('round-trips every range it formats', () => {
    for (const r of splitEvenly(7)) expect(parseKeyRange(formatKeyRange(r))).toEqual(r);
  });

  it('refuses empty, inverted and malformed ranges', () => {
    expect(() => parseKeyRange('80-80')).toThrow(/empty/);
    expect(() => parseKeyRange('c0-40')).toThrow(/empty/);
    expect(() => parseKeyRange('8-')).toThrow(/whole bytes/);
    expect(() => parseKeyRange('zz-')).toThrow(/hex/);
    expect(() => parseKeyRange('80')).toThrow(/expected/);
  });

  it('treats ranges as half-open at their edges', () => {
    const r = parseKeyRange('40-80');
    expect(rangeContains(r, 0x4000000000000000n)).toBe(true);
    expect(rangeContains(r, 0x7fffffffffffffffn)).toBe(true);
    expect(rangeContains(r, 0x8000000000000000n)).toBe(false);
    expect(rangeContains(r, 0x3fffffffffffffffn)).toBe(false);
    expect(rangesOverlap(parseKeyRange('-80'), parseKeyRange('80-'))).toBe(false);
    expect(rangesOverlap(parseKeyRange('-81'), parseKeyRange('80-'))).toBe(true);
  });

  it('stores ksids in SQL with the sign bit flipped so that SQL order is ksid order', () => {
    expect(ksidToSql(0n)).toBe('-9223372036854775808');
    expect(ksidToSql(KSID_END - 1n)).toBe('9223372036854775807');
    expect(ksidToSql(0x8000000000000000n)).toBe('0');
    const samples = [0n, 1n, 0x7fffffffffffffffn, 0x8000000000000000n, KSID_END - 1n];
    const sql = samples.map((k) => BigInt(ksidToSql(k)));
    expect([...sql].sort((a, b) => (a < b ? -1 : 1))).toEqual(sql);
    for (const k of samples) expect(ksidFromSql(ksidToSql(k))).toBe(k);
  });

  it('splits the keyspace into equal, contiguous ranges', () => {
    const three = splitEvenly(3).map(formatKeyRange);
    expect(three).toEqual(['-5555555555555555', '5555555555555555-aaaaaaaaaaaaaaaa', 'aaaaaaaaaaaaaaaa-']);
    expect(splitEvenly(2).map(formatKeyRange)).toEqual(['-80', '80-']);
  });
});
