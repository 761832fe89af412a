import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATE_INFINITY, DATE_MINUS_INFINITY, decodeRow, encodeRow, RowDecodeError, RowWriter, Tag, UNCHANGED, uuidToBytes, type Value } from './row-codec.js';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
/** The range RowReader decodes numbers written with svarint: zigzag values must stay below 2^53. */
const CODEC_MIN = -(2 ** 52);
const CODEC_MAX = 2 ** 52 - 1;

/** `n` one-dimensional, one-element array headers, each holding the next. */
function nestedArrayHeads(n: number): number[] {
  return Array.from({ length: n }, () => [Tag.Array, 1, 1, 2]).flat();
}

function roundTrip(values: readonly Value[]): Value[] {
  return decodeRow(encodeRow(values));
}

/** Asserts `bytes` is refused with a RowDecodeError (and, when given, that its message mentions `what`). */
function assertRejects(bytes: Uint8Array | readonly number[], what?: RegExp): void {
  const input = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
  assert.throws(
    () => decodeRow(input),
    (e: unknown) => e instanceof RowDecodeError && e.name === 'RowDecodeError' && Number.isInteger(e.offset) && (what === undefined || what.test(e.message)),
    `bytes ${Buffer.from(input).toString('hex')}`,
  );
}

describe('row codec round trip', () => {
  it('keeps NULL and UNCHANGED apart', () => {
    const out = roundTrip([null, UNCHANGED, null]);
    assert.equal(out.length, 3);
    assert.equal(out[0], null);
    assert.equal(out[1], UNCHANGED);
    assert.equal(out[2], null);
  });

  it('encodes an empty row as a zero column count', () => {
    assert.deepEqual(encodeRow([]), Uint8Array.of(0));
    assert.deepEqual(decodeRow(Uint8Array.of(0)), []);
  });

  it('round-trips booleans with one tag byte each', () => {
    const bytes = encodeRow([true, false]);
    assert.deepEqual(bytes, Uint8Array.of(2, Tag.True, Tag.False));
    assert.deepEqual(decodeRow(bytes), [true, false]);
  });

  it('round-trips integers over the full int64 range', () => {
    const ints = [0n, 1n, -1n, 63n, -64n, 64n, 127n, 128n, -129n, 2n ** 31n - 1n, -(2n ** 31n), 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 62n, INT64_MAX - 1n, INT64_MAX, INT64_MIN + 1n, INT64_MIN];
    assert.deepEqual(roundTrip(ints), ints);
  });

  it('zigzag-encodes integers (small negatives stay short)', () => {
    assert.deepEqual(encodeRow([-1n]), Uint8Array.of(1, Tag.Int, 1));
    assert.deepEqual(encodeRow([1n]), Uint8Array.of(1, Tag.Int, 2));
    assert.deepEqual(encodeRow([-64n]), Uint8Array.of(1, Tag.Int, 127));
    // int64 extremes need the full 10-byte varint
    assert.equal(encodeRow([INT64_MIN]).length, 1 + 1 + 10);
    assert.equal(encodeRow([INT64_MAX]).length, 1 + 1 + 10);
  });

  it('always decodes integers as bigint', () => {
    for (const v of roundTrip([0n, 5n, INT64_MAX])) assert.equal(typeof v, 'bigint');
  });

  it('round-trips floats bit-exactly, including NaN, ±Infinity and -0', () => {
    const floats = [0, -0, 1.5, -2.25, Math.PI, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, Number.EPSILON, 2 ** 53 + 2, NaN, Infinity, -Infinity];
    const out = roundTrip(floats);
    assert.equal(out.length, floats.length);
    floats.forEach((f, i) => assert.ok(Object.is(out[i], f), `float ${i}: expected ${f}, got ${String(out[i])}`));
    assert.equal(encodeRow([1.5]).length, 1 + 1 + 8);
  });

  it('round-trips decimals as exact text', () => {
    const decimals: Value[] = ['0', '-0.000000000000000000000000000001', '123456789012345678901234567890.123456789', 'NaN', 'Infinity', '-Infinity', '1e+30'].map((text) => ({ kind: 'decimal', text }));
    assert.deepEqual(roundTrip(decimals), decimals);
  });

  it('round-trips text, including 4-byte UTF-8, NUL and the empty string', () => {
    const texts = ['', 'plain', 'naïve café', '日本語', '😀 emoji 𝄞 clef', 'nul\u0000inside', 'x'.repeat(70_000)];
    assert.deepEqual(roundTrip(texts), texts);
    // "😀" is 4 bytes in UTF-8: tag, length 4, bytes
    assert.deepEqual(encodeRow(['😀']), Uint8Array.of(1, Tag.Text, 4, 0xf0, 0x9f, 0x98, 0x80));
  });

  it('writes pre-encoded UTF-8 text and JSON exactly like strings', () => {
    const w = new RowWriter(4);
    w.reset().columns(2);
    w.textUtf8(new TextEncoder().encode('é😀'));
    w.jsonUtf8(new TextEncoder().encode('{"a":"😀"}'));
    assert.deepEqual(w.finish(), encodeRow(['é😀', { kind: 'json', text: '{"a":"😀"}' }]));
  });

  it('round-trips bytes, including empty and all 256 byte values', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const out = roundTrip([new Uint8Array(0), all]);
    assert.deepEqual(out, [new Uint8Array(0), all]);
  });

  it('returns bytes that do not alias the decoded row (plain Uint8Array input)', () => {
    const row = encodeRow([Uint8Array.of(1, 2, 3)]);
    const out = decodeRow(row)[0] as Uint8Array;
    row.fill(0xee);
    assert.deepEqual([...out], [1, 2, 3]);
  });

  it(
    'returns bytes that do not alias the decoded row when the row is a Node Buffer',
    () => {
      const row = Buffer.from(encodeRow([Uint8Array.of(1, 2, 3)]));
      const out = decodeRow(row)[0] as Uint8Array;
      row.fill(0xee);
      assert.deepEqual([...out], [1, 2, 3]);
    },
  );

  it('round-trips uuids as lower-case canonical text', () => {
    const uuids: Value[] = [
      { kind: 'uuid', text: '00000000-0000-0000-0000-000000000000' },
      { kind: 'uuid', text: 'ffffffff-ffff-ffff-ffff-ffffffffffff' },
      { kind: 'uuid', text: '123e4567-e89b-12d3-a456-426614174000' },
    ];
    assert.deepEqual(roundTrip(uuids), uuids);
    assert.deepEqual(roundTrip([{ kind: 'uuid', text: 'A0EEBC999C0B4EF8BB6D6BB9BD380A11' }]), [{ kind: 'uuid', text: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }]);
    assert.equal(encodeRow([uuids[2] as Value]).length, 1 + 1 + 16);
  });

  it('refuses to encode a malformed uuid', () => {
    for (const text of ['', 'not-a-uuid', '123e4567-e89b-12d3-a456-42661417400', '123e4567-e89b-12d3-a456-4266141740000', 'g23e4567-e89b-12d3-a456-426614174000']) {
      assert.throws(() => uuidToBytes(text), RangeError, text);
      assert.throws(() => encodeRow([{ kind: 'uuid', text }]), RangeError, text);
    }
    assert.throws(() => new RowWriter().uuid(new Uint8Array(15)), RangeError);
  });

  it('round-trips dates, including the PostgreSQL infinity sentinels', () => {
    const dates: Value[] = [0, 1, -1, 19_000, -719_528, 2_000_000, DATE_INFINITY, DATE_MINUS_INFINITY].map((days) => ({ kind: 'date', days }));
    assert.deepEqual(roundTrip(dates), dates);
    assert.equal(DATE_INFINITY, 2 ** 31 - 1);
    assert.equal(DATE_MINUS_INFINITY, -(2 ** 31));
  });

  it('round-trips times and times with zone (offsets east positive and west negative)', () => {
    const day = 24 * 3600 * 1_000_000;
    const values: Value[] = [
      { kind: 'time', micros: 0 },
      { kind: 'time', micros: 1 },
      { kind: 'time', micros: 12 * 3600 * 1_000_000 + 34 },
      { kind: 'time', micros: day }, // 24:00:00 is a valid PostgreSQL time
      { kind: 'timetz', micros: 0, offsetSeconds: 0 },
      { kind: 'timetz', micros: day - 1, offsetSeconds: 5 * 3600 + 30 * 60 },
      { kind: 'timetz', micros: 1_000_000, offsetSeconds: -(15 * 3600 + 59 * 60 + 59) },
    ];
    assert.deepEqual(roundTrip(values), values);
  });

  it('round-trips timestamps with and without zone, including ±Infinity and negative micros', () => {
    // PostgreSQL's whole range: 4713 BC to 294276 AD needs 63 bits (bigint beyond 2^53).
    const micros: (number | bigint)[] = [0, 1, -1, 1_700_000_000_123_456, -4_000_000_000_000_000 /* 1843 */, CODEC_MIN, CODEC_MAX, Infinity, -Infinity, 253_402_300_799_999_999n /* 9999-12-31 */, -210_866_803_200_000_000n /* 4713 BC */, 9_224_286_393_599_999_999n - 916_113_100_800_000_000n /* 294276-12-31 */];
    const values: Value[] = micros.flatMap((m): Value[] => [
      { kind: 'timestamp', micros: m },
      { kind: 'timestamptz', micros: m },
    ]);
    assert.deepEqual(roundTrip(values), values);
  });

  it('encodes infinite timestamps as the int64 sentinels', () => {
    const w = new RowWriter();
    w.reset().columns(2);
    w.timestamp(Infinity, false);
    w.timestamp(-Infinity, true);
    const viaSentinels = new RowWriter();
    viaSentinels.reset().columns(2);
    viaSentinels.uvarint(Tag.Timestamp);
    viaSentinels.svarint(INT64_MAX);
    viaSentinels.uvarint(Tag.TimestampTz);
    viaSentinels.svarint(INT64_MIN);
    assert.deepEqual(w.finish(), viaSentinels.finish());
  });

  it('refuses to encode a timestamp that is not a safe integer', () => {
    assert.throws(() => encodeRow([{ kind: 'timestamp', micros: 2 ** 60 }]), RangeError);
    assert.throws(() => encodeRow([{ kind: 'timestamp', micros: 1.5 }]), RangeError);
    assert.throws(() => encodeRow([{ kind: 'timestamptz', micros: NaN }]), RangeError);
  });

  it('round-trips intervals with negative and mixed-sign parts', () => {
    const values: Value[] = [
      { kind: 'interval', months: 0, days: 0, micros: 0 },
      { kind: 'interval', months: 14, days: 3, micros: 4 * 3600 * 1_000_000 },
      { kind: 'interval', months: -1, days: -2, micros: -3 },
      { kind: 'interval', months: 1, days: -30, micros: 86_400_000_000 },
      { kind: 'interval', months: 2 ** 31 - 1, days: -(2 ** 31), micros: CODEC_MIN },
      { kind: 'interval', months: -(2 ** 31), days: 2 ** 31 - 1, micros: CODEC_MAX },
    ];
    assert.deepEqual(roundTrip(values), values);
  });

  it(
    'decodes every number it encodes (safe integers beyond 2^52 in timestamps and intervals)',
    () => {
      const values: Value[] = [
        { kind: 'timestamp', micros: 2 ** 52 },
        { kind: 'timestamptz', micros: Number.MAX_SAFE_INTEGER },
        { kind: 'timestamp', micros: -(2 ** 52) - 1 },
        { kind: 'interval', months: 0, days: 0, micros: Number.MIN_SAFE_INTEGER },
      ];
      for (const v of values) assert.deepEqual(roundTrip([v]), [v], JSON.stringify(v));
    },
  );

  it('round-trips json text verbatim (no re-serialisation)', () => {
    const values: Value[] = ['{}', '{"b": 1,   "a": [1, 2.50]}', '"😀"', 'null', '[]'].map((text) => ({ kind: 'json', text }));
    assert.deepEqual(roundTrip(values), values);
  });

  it('round-trips arrays: empty, one- and multi-dimensional, lower bounds, NULL elements', () => {
    const values: Value[] = [
      { kind: 'array', dims: [], lower: [], items: [] },
      { kind: 'array', dims: [3], lower: [1], items: [1n, null, -3n] },
      { kind: 'array', dims: [2, 3], lower: [0, -5], items: ['a', 'b', 'c', 'd', null, 'f'] },
      { kind: 'array', dims: [1, 1, 2], lower: [-2147483648, 2147483647, 7], items: [true, false] },
      { kind: 'array', dims: [2], lower: [1], items: [{ kind: 'date', days: DATE_INFINITY }, { kind: 'timestamptz', micros: -Infinity }] },
    ];
    assert.deepEqual(roundTrip(values), values);
  });

  it('round-trips arrays nested inside arrays up to the depth limit', () => {
    let v: Value = { kind: 'array', dims: [1], lower: [1], items: [42n] };
    for (let i = 0; i < 6; i++) v = { kind: 'array', dims: [2], lower: [i - 3], items: [v, null] };
    assert.deepEqual(roundTrip([v]), [v]);
  });

  it('round-trips a mixed row and decodes from a subarray with a byte offset', () => {
    const row: Value[] = [
      42n,
      null,
      UNCHANGED,
      'text',
      1.25,
      true,
      Uint8Array.of(9, 8, 7),
      { kind: 'uuid', text: '123e4567-e89b-12d3-a456-426614174000' },
      { kind: 'decimal', text: '-1.50' },
      { kind: 'date', days: -1 },
      { kind: 'timetz', micros: 5, offsetSeconds: -3600 },
      { kind: 'timestamp', micros: -1 },
      { kind: 'interval', months: -1, days: 0, micros: 1 },
      { kind: 'json', text: '{"k":[1]}' },
      { kind: 'array', dims: [2], lower: [1], items: [1.5, -0] },
    ];
    const encoded = encodeRow(row);
    const padded = new Uint8Array(encoded.length + 7);
    padded.set(encoded, 3);
    const out = decodeRow(padded.subarray(3, 3 + encoded.length));
    assert.equal(out.length, row.length);
    assert.deepEqual(out, row);
  });

  it('reuses one writer across rows without leaking bytes between them', () => {
    const w = new RowWriter(2);
    const a = encodeRow(['a long value that forces the writer to grow'], w);
    const b = encodeRow([1n], w);
    assert.deepEqual(decodeRow(a), ['a long value that forces the writer to grow']);
    assert.deepEqual(decodeRow(b), [1n]);
    assert.deepEqual(b, Uint8Array.of(1, Tag.Int, 2));
  });
});

describe('row codec varints', () => {
  /** The reference: LEB128 of a non-negative bigint. */
  function leb128(n: bigint): number[] {
    const out: number[] = [];
    while (n >= 0x80n) {
      out.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    out.push(Number(n));
    return out;
  }

  it('writes unsigned varints of every magnitude up to 2^53 exactly (boundaries and 20,000 seeded values)', () => {
    const values: number[] = [];
    for (let bits = 0; bits <= 53; bits++) {
      const p = 2 ** bits;
      for (const v of [p - 1, p, p + 1]) if (v >= 0 && v <= Number.MAX_SAFE_INTEGER) values.push(v);
    }
    let seed = 99;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 20_000; i++) values.push(Math.floor(rand() * 2 ** Math.floor(rand() * 54)));
    const w = new RowWriter(4);
    for (const v of values) {
      w.reset().uvarint(v);
      assert.deepEqual([...w.finish()], leb128(BigInt(v)), `uvarint(${v})`);
    }
  });

  it('writes text, JSON and decimals from a byte range exactly as from their values', () => {
    const enc = new TextEncoder();
    for (const text of ['', 'a', 'Ünïcode ✓ 😀', 'x'.repeat(32), 'y'.repeat(33), 'z'.repeat(5000)]) {
      const framed = enc.encode(`\t${text}\t`);
      const end = framed.length - 1;
      const a = new RowWriter(4);
      a.textRange(framed, 1, end);
      a.jsonRange(framed, 1, end);
      const b = new RowWriter(4);
      b.textUtf8(enc.encode(text));
      b.jsonUtf8(enc.encode(text));
      assert.deepEqual(a.finish(), b.finish(), `${text.length} characters`);
    }
    for (const d of ['0', '-12.50', '123456789012345678901234567890.000001', 'NaN']) {
      const a = new RowWriter(2);
      a.decimalRange(enc.encode(` ${d}`), 1, d.length + 1);
      const b = new RowWriter(2);
      b.decimal(d);
      assert.deepEqual(a.finish(), b.finish(), d);
    }
  });

  it('round-trips timestamps and integers near the 31, 32 and 52-bit edges', () => {
    const edges = [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 51, 2 ** 52 - 1, -(2 ** 31), -(2 ** 32) - 1, 1_764_000_000_123_456, -1_764_000_000_123_456];
    for (const v of edges) assert.equal(BigInt(decodeRow(encodeRow([v]))[0] as number | bigint), BigInt(v), `int ${v}`);
    const w = new RowWriter();
    w.columns(1);
    w.timestamp(1_764_000_000_123_456, true);
    assert.deepEqual(decodeRow(w.finish()), [{ kind: 'timestamptz', micros: 1_764_000_000_123_456 }]);
  });
});

describe('row codec malformed input', () => {
  const valid = encodeRow([
    7n,
    'héllo😀',
    Uint8Array.of(1, 2),
    { kind: 'uuid', text: '123e4567-e89b-12d3-a456-426614174000' },
    1.5,
    { kind: 'interval', months: 1, days: 2, micros: 3 },
    { kind: 'array', dims: [2, 2], lower: [1, 1], items: [1n, 2n, 3n, 4n] },
    { kind: 'timestamptz', micros: Infinity },
  ]);

  it('rejects every strict prefix of a valid row', () => {
    for (let n = 0; n < valid.length; n++) assertRejects(valid.subarray(0, n));
  });

  it('rejects an empty input', () => {
    assertRejects([]);
  });

  it('rejects unknown value tags', () => {
    for (let tag = Tag.Array + 1; tag < 256; tag++) assertRejects([1, tag], /unknown value tag/);
  });

  it('rejects a column count larger than the row', () => {
    assertRejects([5, Tag.Null], /column count/);
    // 2^35 columns in a 6-byte row
    assertRejects([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    // a column count beyond 2^53
    assertRejects([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it('rejects a varint longer than 10 bytes', () => {
    assertRejects([1, Tag.Int, ...new Array<number>(11).fill(0x80), 0], /varint/);
  });

  it(
    'rejects integers outside int64 (a 10-byte varint above 2^64)',
    () => {
      assertRejects([1, Tag.Int, ...new Array<number>(9).fill(0xff), 0x7f]);
      assertRejects([1, Tag.Int, ...new Array<number>(9).fill(0x80), 0x02]);
    },
  );

  it('rejects trailing bytes', () => {
    assertRejects([...valid, 0], /trailing/);
    assertRejects([1, Tag.Null, Tag.Null], /trailing/);
    assertRejects([0, 0]);
  });

  it('rejects invalid UTF-8 in text, decimal and json', () => {
    const bad = [
      [0xff],
      [0xc3], // truncated 2-byte sequence
      [0xc0, 0x80], // overlong NUL
      [0xed, 0xa0, 0x80], // UTF-16 surrogate
      [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
      [0xf0, 0x9f, 0x98], // truncated 4-byte sequence
    ];
    for (const tag of [Tag.Text, Tag.Decimal, Tag.Json]) for (const b of bad) assertRejects([1, tag, b.length, ...b], /UTF-8/);
  });

  it('rejects lengths that run past the end', () => {
    assertRejects([1, Tag.Text, 5, 0x61, 0x62], /more bytes/);
    assertRejects([1, Tag.Bytes, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    assertRejects([1, Tag.Uuid, ...new Array<number>(15).fill(0)]);
    assertRejects([1, Tag.Float, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('rejects dates, times and intervals out of the safe integer range', () => {
    const big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assertRejects([1, Tag.Date, ...big]);
    assertRejects([1, Tag.Time, ...big]);
    assertRejects([1, Tag.TimeTz, 0, ...big]);
    assertRejects([1, Tag.Interval, 0, 0, ...big]);
  });

  it('keeps a timestamp beyond 2^53 exact as a bigint', () => {
    const w = new RowWriter();
    w.reset().columns(1);
    w.uvarint(Tag.Timestamp);
    w.svarint(INT64_MAX - 1n);
    assert.deepEqual(decodeRow(w.finish()), [{ kind: 'timestamp', micros: INT64_MAX - 1n }]);
  });

  it('rejects arrays with too many dimensions, too many items, or nested too deep', () => {
    assertRejects([1, Tag.Array, 7, ...new Array<number>(14).fill(0)], /dimensions/);
    // 1000 items promised, 2 bytes left
    assertRejects([1, Tag.Array, 1, 0xe8, 0x07, 2, 0, 0], /exceeds/);
    // dims whose product overflows a double
    const w = new RowWriter();
    w.reset().columns(1);
    w.uvarint(Tag.Array);
    w.uvarint(6);
    for (let i = 0; i < 6; i++) {
      w.uvarint(Number.MAX_SAFE_INTEGER);
      w.svarint(1);
    }
    assertRejects(w.finish(), /exceeds/);
    // 8 arrays nested: one more than the limit
    assertRejects([1, ...nestedArrayHeads(8), Tag.Null], /too deep/);
    // and 7 nested decode fine
    const seven = decodeRow(Uint8Array.from([1, ...nestedArrayHeads(7), Tag.Null]));
    assert.equal(seven.length, 1);
  });

  it('rejects very deep nesting quickly, without a stack overflow', () => {
    const deep = new Uint8Array(1 + 4 * 200_000 + 1);
    deep[0] = 1;
    for (let i = 0; i < 200_000; i++) deep.set([Tag.Array, 1, 1, 2], 1 + 4 * i);
    const started = performance.now();
    assertRejects(deep, /too deep/);
    assert.ok(performance.now() - started < 500);
  });

  it('decodes random garbage to a value or a RowDecodeError, never anything else, and never hangs', () => {
    let seed = 0x2545f491;
    const rand = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const started = performance.now();
    for (let i = 0; i < 3000; i++) {
      const len = Math.floor(rand() * 64);
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = rand() < 0.5 ? Math.floor(rand() * 18) : Math.floor(rand() * 256);
      if (len > 0 && rand() < 0.7) b[0] = Math.floor(rand() * 8);
      try {
        decodeRow(b);
      } catch (e) {
        assert.ok(e instanceof RowDecodeError, `unexpected ${String(e)} for ${Buffer.from(b).toString('hex')}`);
      }
    }
    // mutations of a valid row: flip one byte at a time
    for (let i = 0; i < valid.length; i++) {
      for (const x of [0x01, 0x80, 0xff]) {
        const b = valid.slice();
        b[i] = (b[i] as number) ^ x;
        try {
          decodeRow(b);
        } catch (e) {
          assert.ok(e instanceof RowDecodeError, `unexpected ${String(e)}`);
        }
      }
    }
    assert.ok(performance.now() - started < 2000);
  });
});
