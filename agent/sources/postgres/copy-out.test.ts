import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { RowConverter } from './convert.js';
import { copyLineSpans, copyLineToTuple } from './copy-out.js';
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

/** copyLineSpans over a whole line. */
const whole = (line: Uint8Array, count: number, spans: Int32Array): boolean => copyLineSpans(line, 0, line.length, count, spans);

test('copyLineSpans reads only its line of a larger buffer', () => {
  const spans = new Int32Array(4);
  const buf = enc.encode('\\x\t\tab\tc\n\\N\t\t');
  // the line 'ab\tc' sits at [4, 8); backslashes and tabs around it are not its own
  assert.equal(copyLineSpans(buf, 4, 8, 2, spans), true);
  assert.deepEqual([...spans], [4, 6, 7, 8]);
});

test('copyLineSpans: spans of a line without escapes, -1 for NULL; false when a value holds an escape', () => {
  const spans = new Int32Array(8);
  const line = enc.encode('1\t\\N\thello\t');
  assert.equal(whole(line, 4, spans), true);
  assert.deepEqual([...spans.subarray(0, 8)].filter((_, i) => i !== 3), [0, 1, -1, 5, 10, 11, 11]);
  assert.equal(whole(enc.encode('a\\tb\tc'), 2, spans), false);
  assert.equal(whole(enc.encode('x\t\\\\N'), 2, spans), false, 'an escaped backslash before N is text, not NULL');
  assert.equal(whole(enc.encode('\\N'), 1, spans), true);
  assert.equal(spans[0], -1);
  assert.throws(() => whole(enc.encode('1\t2\t3'), 2, spans), /more than 2 columns/);
  assert.throws(() => whole(enc.encode('1'), 2, spans), /1 columns, expected 2/);
});

test('the span path converts every line exactly as the unescaping path does (2,000 seeded lines)', () => {
  let seed = 7;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const columns = [
    { name: 'id', key: true, kind: ValueKind.INT64 },
    { name: 'note', key: false, kind: ValueKind.TEXT },
    { name: 'tag', key: true, kind: ValueKind.TEXT },
    { name: 'amount', key: false, kind: ValueKind.DECIMAL },
  ].map((c) => ({
    name: c.name,
    key: c.key,
    resolved: { kind: c.kind, elementKind: ValueKind.UNSPECIFIED, sourceType: 'x', arrayDims: 0, elementTypeOid: 0, delimiter: ',' },
  }));
  const conv = new RowConverter('public.t', columns);
  const pieces = ['a', 'é', ' ', '\\\\', '\\t', '\\n', 'N', '\\\\N', 'x'];
  const text = (): string => (rand(6) === 0 ? '\\N' : Array.from({ length: rand(4) }, () => pieces[rand(pieces.length)]).join(''));
  const spans = new Int32Array(8);
  let spanned = 0;
  for (let i = 0; i < 2000; i++) {
    const line = enc.encode([String(rand(1e6)), text(), text(), rand(5) === 0 ? '\\N' : `${rand(1000)}.${rand(100)}`].join('\t'));
    const { tuple } = copyLineToTuple(line, 4, new Uint8Array(0));
    for (const keysOnly of [true, false]) {
      const expected = new RowWriter();
      if (keysOnly) conv.writeKey(tuple, expected);
      else conv.writeRow(tuple, expected);
      if (!whole(line, 4, spans)) continue;
      spanned++;
      const actual = new RowWriter();
      conv.writeSpans(line, spans, actual, keysOnly);
      assert.deepEqual(actual.finish(), expected.finish(), `line ${i}: ${dec.decode(line)}`);
    }
  }
  assert.ok(spanned > 500, `only ${spanned} conversions took the span path`);
});
