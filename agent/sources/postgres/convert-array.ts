import type { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import type { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { CH_0, CH_COLON, CH_MINUS, ValueSyntaxError } from './convert-syntax.js';
import { writeScalar } from './convert-scalar.js';

/**
 * PostgreSQL array literals as array_out prints them: `{1,2,3}`, nested braces
 * for more dimensions (`{{1,2},{3,4}}`), a `[lo:hi]...=` prefix when a lower
 * bound is not 1, unquoted NULL for null, and elements double-quoted (with
 * backslash escapes for `"` and `\`) when they are empty, contain the
 * delimiter, braces, quotes, backslashes or whitespace, or spell NULL.
 *
 * One pass records element spans and checks the shape; a second writes
 * `arrayStart(dims, lower)` and the elements in row-major order.
 */

const CH_LBRACE = 0x7b;
const CH_RBRACE = 0x7d;
const CH_QUOTE = 0x22;
const CH_BACKSLASH = 0x5c;
const CH_LBRACKET = 0x5b;
const CH_RBRACKET = 0x5d;
const CH_EQUALS = 0x3d;
/** PostgreSQL's MAXDIM. */
const MAX_DIMS = 6;

const PLAIN = 0;
const NULL = 1;
const ESCAPED = 2;

/** Per element: start, end, PLAIN/NULL/ESCAPED. Reused across values; parsing is synchronous. */
let spans = new Int32Array(3 * 256);
let unescaped = new Uint8Array(256);
const counts = new Int32Array(MAX_DIMS);
const shape = new Int32Array(MAX_DIMS);
const dims: number[] = [];
const lower: number[] = [];
const boundDims: number[] = [];

/** Writes one array value; `delimiter` is the element type's typdelim as a byte. */
export function writeArray(
  buf: Uint8Array,
  start: number,
  end: number,
  elementKind: ValueKind,
  delimiter: number,
  w: RowWriter,
): void {
  lower.length = 0;
  boundDims.length = 0;
  const p = buf[start] === CH_LBRACKET ? bounds(buf, start, end) : start;
  const items = structure(buf, p, end, delimiter);
  if (boundDims.length > 0) {
    if (boundDims.length !== dims.length) throw new ValueSyntaxError('bounds do not match the dimensions');
    for (let d = 0; d < dims.length; d++) {
      if (boundDims[d] !== dims[d]) throw new ValueSyntaxError('bounds do not match the dimensions');
    }
  } else {
    for (let d = 0; d < dims.length; d++) lower[d] = 1;
  }
  w.arrayStart(dims, lower);
  for (let i = 0; i < items; i++) {
    const s = spans[3 * i] as number;
    const e = spans[3 * i + 1] as number;
    const flag = spans[3 * i + 2];
    if (flag === NULL) w.null();
    else if (flag === PLAIN) writeScalar(elementKind, buf, s, e, w);
    else writeScalar(elementKind, unescaped, 0, unescape(buf, s, e), w);
  }
}

/** `[lo:hi][lo:hi]=` → lower and boundDims; returns the offset of the opening brace. */
function bounds(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  while (p < end && buf[p] === CH_LBRACKET) {
    if (lower.length === MAX_DIMS) throw new ValueSyntaxError('too many dimensions');
    const lo = signedInt(buf, p + 1, end);
    p = cursor;
    if (buf[p] !== CH_COLON) throw new ValueSyntaxError('bad array bounds');
    const hi = signedInt(buf, p + 1, end);
    p = cursor;
    if (buf[p] !== CH_RBRACKET || hi < lo) throw new ValueSyntaxError('bad array bounds');
    lower.push(lo);
    boundDims.push(hi - lo + 1);
    p++;
  }
  if (p >= end || buf[p] !== CH_EQUALS) throw new ValueSyntaxError('bad array bounds');
  return p + 1;
}

let cursor = 0;

function signedInt(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  const negative = p < end && buf[p] === CH_MINUS;
  if (negative) p++;
  const from = p;
  let v = 0;
  while (p < end && p - from < 10) {
    const d = (buf[p] as number) - CH_0;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    p++;
  }
  if (p === from) throw new ValueSyntaxError('bad array bounds');
  cursor = p;
  return negative ? -v : v;
}

/**
 * Walks the braces, records element spans and sets `dims`; returns the
 * element count. Every sub-array at one depth must have the same length.
 */
function structure(buf: Uint8Array, start: number, end: number, delimiter: number): number {
  if (buf[start] !== CH_LBRACE) throw new ValueSyntaxError('array must start with {');
  shape.fill(-1);
  let p = start;
  let depth = 0;
  let ndims = 0; // fixed by the depth of the first element
  let items = 0;
  let expectItem = true; // after { or a delimiter; false after an element or }
  let afterDelimiter = false;
  while (p < end) {
    const c = buf[p] as number;
    if (c === CH_LBRACE) {
      if (!expectItem || depth === MAX_DIMS || (ndims !== 0 && depth >= ndims)) throw new ValueSyntaxError('misplaced {');
      if (depth === 0 && p !== start) throw new ValueSyntaxError('text after the array');
      if (depth > 0) counts[depth - 1] = (counts[depth - 1] as number) + 1;
      counts[depth++] = 0;
      p++;
      afterDelimiter = false;
    } else if (c === CH_RBRACE) {
      if (depth === 0 || afterDelimiter) throw new ValueSyntaxError('misplaced }');
      const d = depth - 1;
      const n = counts[d] as number;
      if (n === 0) {
        // Only a whole array may be empty: '{}'.
        if (d !== 0 || items !== 0 || p + 1 !== end) throw new ValueSyntaxError('empty sub-array');
      } else if (shape[d] === -1) shape[d] = n;
      else if (shape[d] !== n) throw new ValueSyntaxError('sub-arrays have different lengths');
      depth--;
      p++;
      expectItem = false;
    } else if (c === delimiter) {
      if (expectItem || depth === 0) throw new ValueSyntaxError('misplaced delimiter');
      expectItem = true;
      afterDelimiter = true;
      p++;
    } else {
      if (!expectItem || depth === 0) throw new ValueSyntaxError('misplaced element');
      if (ndims === 0) ndims = depth;
      else if (depth !== ndims) throw new ValueSyntaxError('elements at different depths');
      p = element(buf, p, end, delimiter, items);
      items++;
      counts[depth - 1] = (counts[depth - 1] as number) + 1;
      expectItem = false;
      afterDelimiter = false;
    }
  }
  if (depth !== 0) throw new ValueSyntaxError('unbalanced braces');
  dims.length = ndims;
  for (let d = 0; d < ndims; d++) dims[d] = shape[d] as number;
  return items;
}

/** Records element `index` starting at `p`; returns the offset after it. */
function element(buf: Uint8Array, p: number, end: number, delimiter: number, index: number): number {
  if (spans.length < 3 * (index + 1)) {
    const grown = new Int32Array(spans.length * 2);
    grown.set(spans);
    spans = grown;
  }
  let s = p;
  let e: number;
  let flag = PLAIN;
  if (buf[p] === CH_QUOTE) {
    s = ++p;
    while (p < end && buf[p] !== CH_QUOTE) {
      if (buf[p] === CH_BACKSLASH) {
        flag = ESCAPED;
        p++;
      }
      p++;
    }
    if (p >= end) throw new ValueSyntaxError('unterminated quoted element');
    e = p++;
  } else {
    while (p < end) {
      const c = buf[p] as number;
      if (c === delimiter || c === CH_RBRACE) break;
      if (c === CH_LBRACE || c === CH_QUOTE || c === CH_BACKSLASH || c === 0x20) throw new ValueSyntaxError('bad unquoted element');
      p++;
    }
    e = p;
    if (isNullWord(buf, s, e)) flag = NULL;
  }
  spans[3 * index] = s;
  spans[3 * index + 1] = e;
  spans[3 * index + 2] = flag;
  return p;
}

/** Unquoted NULL, in any case (array_in's rule), is SQL NULL; a quoted "NULL" is the text. */
function isNullWord(buf: Uint8Array, s: number, e: number): boolean {
  return (
    e - s === 4 &&
    ((buf[s] as number) | 0x20) === 0x6e &&
    ((buf[s + 1] as number) | 0x20) === 0x75 &&
    ((buf[s + 2] as number) | 0x20) === 0x6c &&
    ((buf[s + 3] as number) | 0x20) === 0x6c
  );
}

/** Copies a quoted element without its backslashes into `unescaped`; returns its length. */
function unescape(buf: Uint8Array, s: number, e: number): number {
  if (unescaped.length < e - s) unescaped = new Uint8Array(Math.max(e - s, unescaped.length * 2));
  let n = 0;
  for (let p = s; p < e; p++) {
    if (buf[p] === CH_BACKSLASH) p++;
    unescaped[n++] = buf[p] as number;
  }
  return n;
}
