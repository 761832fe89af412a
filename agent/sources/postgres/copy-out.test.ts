import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyLineToTuple } from './copy-out.js';
import { TupleKind, type TupleData } from './protocol.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads a TupleData back into strings (null for 'n'). */
function columns(t: TupleData): (string | null)[] {
  const out: (string | null)[] = [];
  let p = t.start;
  for (let i = 0; i < t.count; i++) {
    const kind = t.buf[p++];
    if (kind === TupleKind.Null) {
      out.push(null);
      continue;
    }
    assert.equal(kind, TupleKind.Text);
    const len = ((t.buf[p] as number) << 24) | ((t.buf[p + 1] as number) << 16) | ((t.buf[p + 2] as number) << 8) | (t.buf[p + 3] as number);
    p += 4;
    out.push(dec.decode(t.buf.subarray(p, p + len)));
    p += len;
  }
  assert.equal(p, t.end);
  return out;
}

test('COPY text columns become text tuple columns, \\N becomes NULL', () => {
  const { tuple } = copyLineToTuple(enc.encode('1\t\\N\thello\t'), 4, new Uint8Array(8));
  assert.deepEqual(columns(tuple), ['1', null, 'hello', '']);
});

test('escapes are undone: backslash, tab, newline class; a literal \\N string stays text', () => {
  const { tuple } = copyLineToTuple(enc.encode('a\\tb\\nc\\\\d\\r\\b\\f\\v\t\\\\N\té'), 3, new Uint8Array(0));
  assert.deepEqual(columns(tuple), ['a\tb\nc\\d\r\b\f\v', '\\N', 'é']);
});

test('a NULL last column and a row of one NULL', () => {
  assert.deepEqual(columns(copyLineToTuple(enc.encode('x\t\\N'), 2, new Uint8Array(0)).tuple), ['x', null]);
  assert.deepEqual(columns(copyLineToTuple(enc.encode('\\N'), 1, new Uint8Array(0)).tuple), [null]);
});

test('a column count that does not match is an error', () => {
  assert.throws(() => copyLineToTuple(enc.encode('1\t2\t3'), 2, new Uint8Array(0)), /more than 2 columns/);
  assert.throws(() => copyLineToTuple(enc.encode('1'), 2, new Uint8Array(0)), /1 columns, expected 2/);
});
