import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, isExactNumberLiteral, scanJson } from '../../src/api/json-scan.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('the JSON scan refuses what cannot be stored or read back unchanged', () => {
  it('accepts ordinary JSON of every kind', () => {
    for (const text of ['{}', '[]', '"text"', 'true', 'null', '0', '-12.5e-3', '{"a":[1,{"b":"c\\"]{"}],"ü":"😀","esc":"\\n\\t\\\\\\/"}', '"\\ud83d\\ude00"', '"😀"']) {
      expect(scanJson(text), text).toBeUndefined();
    }
  });

  it(`allows nesting up to ${MAX_JSON_DEPTH} and refuses one more, however deep, without recursing`, () => {
    expect(scanJson(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(scanJson(nested(MAX_JSON_DEPTH + 1))).toMatchObject({ kind: 'too-deep', offset: MAX_JSON_DEPTH });
    expect(scanJson(`{"a":${'{"b":'.repeat(MAX_JSON_DEPTH)}1${'}'.repeat(MAX_JSON_DEPTH)}}`)).toMatchObject({ kind: 'too-deep' });
    // Far beyond any stack: a recursive check would throw RangeError here.
    expect(scanJson(nested(1_000_000))).toMatchObject({ kind: 'too-deep' });
    expect(scanJson(nested(3), { maxDepth: 2 })).toMatchObject({ kind: 'too-deep', offset: 2 });
  });

  it('does not count brackets inside strings', () => {
    expect(scanJson(`["${'['.repeat(500)}"]`)).toBeUndefined();
    expect(scanJson(`{"k\\"[[[":"${'{'.repeat(500)}"}`)).toBeUndefined();
  });

  it('refuses NUL escaped in a value or a key', () => {
    expect(scanJson('"a\\u0000b"')).toMatchObject({ kind: 'nul', offset: 2 });
    expect(scanJson('{"k\\u0000":1}')).toMatchObject({ kind: 'nul' });
    expect(scanJson('"\\\\u0000"')).toBeUndefined(); // an escaped backslash, then the text u0000
  });

  it('refuses lone surrogates, escaped or raw, in values and keys, and accepts pairs', () => {
    for (const text of ['"\\ud800"', '"\\uDBFF x"', '"\\udc00"', '"\\ud800\\u0041"', '"\\ud800\\ud800"', '{"\\ud800":1}', '["a\\udfff"]', '"\ud800"', '"\udc00"', '"\ud800x"']) {
      expect(scanJson(text), text).toMatchObject({ kind: 'lone-surrogate' });
    }
    for (const text of ['"\\ud800\\udc00"', '"\\uDBFF\\uDFFF"', '"\ud83d\ude00"', '{"\\ud83d\\ude00":"\\u00e9"}']) expect(scanJson(text), text).toBeUndefined();
  });

  it('refuses numbers that would be stored changed, wherever they are', () => {
    for (const text of ['1e400', '[1e-400]', '{"n":9007199254740993}', '1.00000000000000000001', '-1e400', '{"a":[0.30000000000000000001]}']) {
      expect(scanJson(text), text).toMatchObject({ kind: 'inexact-number' });
    }
  });

  it('leaves malformed text to JSON.parse', () => {
    for (const text of ['', '[', '"unterminated', '{"a":', '"\\uZZZZ"', '01', '1.', '--1', '"\\u12"']) expect(scanJson(text), text).toBeUndefined();
  });
});

describe('a number literal is exact when a double gives back the same decimal', () => {
  it.each(['0', '-0', '0.0', '1', '1.0', '1e3', '1E+3', '10.50', '0.1', '0.30000000000000004', '-2.5e-7', '123456789012345', '9007199254740991', '9007199254740992', '1152921504606847000', '1e21', '1.7976931348623157e308', '5e-324', '2.2250738585072014e-308', '0e99999'])(
    '%s is exact',
    (literal) => expect(isExactNumberLiteral(literal)).toBe(true),
  );

  // 2^60 is a double, but it prints as 1152921504606847000: what is returned would differ from what was sent.
  it.each(['1e400', '1e-400', '-1e400', '9007199254740993', '1152921504606846976', '1.00000000000000000001', '0.30000000000000000001', '123456789012345678901234567890', '1e99999999999', '2e-324', '1.7976931348623159e308'])(
    '%s is not',
    (literal) => expect(isExactNumberLiteral(literal)).toBe(false),
  );
});
