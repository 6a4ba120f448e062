/**
 * One pass over a JSON text, before `JSON.parse`, for what parsing would
 * accept but Tessera cannot store or give back unchanged:
 *
 * - nesting deeper than {@link MAX_JSON_DEPTH}: `JSON.parse`, `JSON.stringify`
 *   and PostgreSQL all recurse, and some clients cannot read a deep value back;
 * - U+0000 (`\u0000`): PostgreSQL text and jsonb cannot hold it;
 * - lone surrogates (`"\ud800"`): not Unicode text; jsonb refuses them and a
 *   text column would store U+FFFD instead;
 * - number literals that a double (what JavaScript holds) cannot give back
 *   as the same decimal: `1e400`, `1e-400`, `9007199254740993`.
 *
 * The pass is a loop with a depth counter, never recursion, so no input can
 * overflow the stack. It does not check JSON syntax: `JSON.parse` does that
 * right after, and a malformed text is refused either way.
 */

/** How deep arrays and objects may nest in a request body (`[[1]]` is 2). */
export const MAX_JSON_DEPTH = 64;

/** Why a JSON text was refused, and where (a UTF-16 offset into the text). */
export interface JsonScanIssue {
  kind: 'too-deep' | 'nul' | 'lone-surrogate' | 'inexact-number';
  offset: number;
  detail: string;
}

/** Options of {@link scanJson}. */
export interface JsonScanOptions {
  /** @default MAX_JSON_DEPTH */
  maxDepth?: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** Returns the first reason to refuse `text`, or undefined when there is none. */
export function scanJson(text: string, opts: JsonScanOptions = {}): JsonScanIssue | undefined {
  const maxDepth = opts.maxDepth ?? MAX_JSON_DEPTH;
  const n = text.length;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = scanString(text, i + 1);
      if (typeof end !== 'number') return end;
      i = end;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return { kind: 'too-deep', offset: i, detail: `JSON nests arrays and objects deeper than ${maxDepth}` };
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      let j = i + 1;
      while (j < n && isNumberChar(text.charCodeAt(j))) j++;
      const literal = text.slice(i, j);
      if (!isExactNumberLiteral(literal)) {
        return { kind: 'inexact-number', offset: i, detail: `the number ${literal.length > 40 ? `${literal.slice(0, 40)}…` : literal} cannot be stored exactly (it is not a decimal that a 64-bit float gives back unchanged)` };
      }
      i = j - 1;
    }
  }
  return undefined;
}

/** Scans a string body from `i` (after the opening quote); returns the closing quote's index, or an issue. */
function scanString(text: string, start: number): number | JsonScanIssue {
  const n = text.length;
  for (let i = start; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH) {
      if (text.charCodeAt(i + 1) !== 0x75 /* u */) {
        i++; // a one-character escape
        continue;
      }
      const unit = hex4(text, i + 2);
      if (unit === 0) return { kind: 'nul', offset: i, detail: 'JSON text holds a NUL character (\\u0000), which cannot be stored' };
      if (isHigh(unit)) {
        if (text.charCodeAt(i + 6) !== BACKSLASH || text.charCodeAt(i + 7) !== 0x75 || !isLow(hex4(text, i + 8))) return loneSurrogate(i);
        i += 11; // both escapes of the pair
        continue;
      }
      if (isLow(unit)) return loneSurrogate(i);
      if (unit >= 0) i += 5;
      continue;
    }
    // Raw surrogates cannot come from valid UTF-8, but a caller may hand over any string.
    if (isHigh(c)) {
      if (!isLow(text.charCodeAt(i + 1))) return loneSurrogate(i);
      i++;
    } else if (isLow(c)) {
      return loneSurrogate(i);
    }
  }
  return n; // unterminated: JSON.parse refuses it
}

function loneSurrogate(offset: number): JsonScanIssue {
  return { kind: 'lone-surrogate', offset, detail: 'JSON text holds a lone UTF-16 surrogate (e.g. \\ud800), which is not Unicode text' };
}

/** The value of 4 hex digits at `i`, or -1 when they are not (JSON.parse then refuses the text). */
function hex4(text: string, i: number): number {
  let v = 0;
  for (let k = i; k < i + 4; k++) {
    const c = text.charCodeAt(k);
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

function isNumberChar(c: number): boolean {
  return (c >= ZERO && c <= NINE) || c === 0x2e /* . */ || c === 0x65 /* e */ || c === 0x45 /* E */ || c === 0x2b /* + */ || c === MINUS;
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const SHORT_INTEGER = /^-?\d{1,15}$/;

/**
 * Whether a JSON number literal reads back as the same decimal after a round
 * trip through an IEEE-754 double (parse, then print the shortest form), so
 * what is stored and returned is the number that was sent. Spelling does not
 * matter (`1.0`, `1e0` and `1` are one number; `-0` is 0); digits do:
 * `1e400` (infinite), `1e-400` (0), `9007199254740993` (…992) and
 * `0.1000000000000000000001` (0.1) are not exact. A literal that is not valid
 * JSON counts as exact: `JSON.parse` refuses it anyway.
 */
export function isExactNumberLiteral(literal: string): boolean {
  // Fast path: integers of up to 15 digits are always exact (2^53 has 16).
  if (SHORT_INTEGER.test(literal)) return true;
  if (!JSON_NUMBER.test(literal)) return true;
  const value = Number(literal);
  if (!Number.isFinite(value)) return false;
  const unsigned = literal.charCodeAt(0) === MINUS ? literal.slice(1) : literal;
  return normalise(unsigned) === normalise(String(Math.abs(value)));
}

/**
 * A decimal as `<significant digits>e<exponent>` with no leading or trailing
 * zeros (`0.0100` → `1e-2`, `1.5e+3` → `15e2`), or `0`. Takes a JSON number
 * or what `String(number)` prints, without a sign.
 */
function normalise(decimal: string): string {
  let mantissa = decimal;
  let exp = 0;
  const e = decimal.search(/[eE]/);
  if (e >= 0) {
    mantissa = decimal.slice(0, e);
    exp = Number(decimal.slice(e + 1));
  }
  let digits = mantissa;
  const dot = mantissa.indexOf('.');
  if (dot >= 0) {
    digits = mantissa.slice(0, dot) + mantissa.slice(dot + 1);
    exp -= mantissa.length - dot - 1;
  }
  let a = 0;
  while (a < digits.length && digits.charCodeAt(a) === ZERO) a++;
  let b = digits.length;
  while (b > a && digits.charCodeAt(b - 1) === ZERO) {
    b--;
    exp++;
  }
  return a === b ? '0' : `${digits.slice(a, b)}e${exp}`;
}
