import { describe, expect, it } from 'vitest';
import { evaluatePreconditions, parseEntityTags, type Preconditions } from '../../src/api/etag.js';

describe('entity-tag headers (RFC 9110 §8.8.3, §13.1.1)', () => {
  it('parse *, one tag, weak tags and lists, with optional whitespace and empty list elements', () => {
    expect(parseEntityTags('*')).toBe('*');
    expect(parseEntityTags('"3"')).toEqual([{ weak: false, opaque: '3' }]);
    expect(parseEntityTags('W/"3"')).toEqual([{ weak: true, opaque: '3' }]);
    expect(parseEntityTags('"1", W/"2" ,"x-y"')).toEqual([
      { weak: false, opaque: '1' },
      { weak: true, opaque: '2' },
      { weak: false, opaque: 'x-y' },
    ]);
    expect(parseEntityTags(', "1",,\t"2",')).toEqual([
      { weak: false, opaque: '1' },
      { weak: false, opaque: '2' },
    ]);
    expect(parseEntityTags('""')).toEqual([{ weak: false, opaque: '' }]);
  });

  it('refuse anything else as malformed', () => {
    for (const bad of ['', '3', 'W/3', '"3', '3"', 'w/"3"', '* , "3"', '"3", *', '"a"b"', '"a b"', 'banana', ',', '"1" "2"', 'W/ "1"']) {
      expect(parseEntityTags(bad), bad).toBeNull();
    }
  });
});

describe('evaluating preconditions', () => {
  const tags = (value: string) => parseEntityTags(value) as NonNullable<Preconditions['ifMatch']>;
  const run = (pre: Preconditions, version: number | undefined, safe = false) => evaluatePreconditions(pre, version, safe);

  it('If-Match compares strongly: W/"4" never matches, "4" does, and so does any tag of a list', () => {
    expect(run({ ifMatch: tags('"4"') }, 4)).toBe('proceed');
    expect(run({ ifMatch: tags('W/"4"') }, 4)).toBe(412);
    expect(run({ ifMatch: tags('"1", "4"') }, 4)).toBe('proceed');
    expect(run({ ifMatch: tags('"3"') }, 4)).toBe(412);
  });

  it('If-Match: * holds only for a resource that exists; no tag matches one that does not', () => {
    expect(run({ ifMatch: '*' }, 1)).toBe('proceed');
    expect(run({ ifMatch: '*' }, undefined)).toBe(412);
    expect(run({ ifMatch: tags('"1"') }, undefined)).toBe(412);
  });

  it('If-None-Match compares weakly; a match is 304 for a read and 412 for a write', () => {
    expect(run({ ifNoneMatch: tags('W/"4"') }, 4, true)).toBe(304);
    expect(run({ ifNoneMatch: tags('"4"') }, 4, false)).toBe(412);
    expect(run({ ifNoneMatch: tags('"3", "5"') }, 4)).toBe('proceed');
    expect(run({ ifNoneMatch: '*' }, 4)).toBe(412);
    expect(run({ ifNoneMatch: '*' }, undefined)).toBe('proceed');
    expect(run({ ifNoneMatch: tags('"4"') }, undefined)).toBe('proceed');
  });

  it('with both, If-Match is evaluated first, then If-None-Match: "*" and "*" never both hold', () => {
    expect(run({ ifMatch: '*', ifNoneMatch: '*' }, 2)).toBe(412);
    expect(run({ ifMatch: '*', ifNoneMatch: '*' }, undefined)).toBe(412);
    expect(run({ ifMatch: tags('"2"'), ifNoneMatch: tags('"1"') }, 2)).toBe('proceed');
    expect(run({ ifMatch: tags('"1"'), ifNoneMatch: tags('"9"') }, 2, true)).toBe(412);
  });
});
