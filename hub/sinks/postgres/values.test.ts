import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DATE_INFINITY, DATE_MINUS_INFINITY, UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';
import { civilFromDays, toPgParam } from './values.js';

const DAY_MS = 86_400_000;

/** Date.UTC days for a proleptic Gregorian astronomical year (the test may use Date; values.ts must not). */
function utcDays(year: number, month: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  return Math.round(d.getTime() / DAY_MS);
}

describe('toPgParam scalars', () => {
  test('null, booleans, integers, strings, bytes', () => {
    assert.equal(toPgParam(null), null);
    assert.equal(toPgParam(true), 't');
    assert.equal(toPgParam(false), 'f');
    assert.equal(toPgParam(-9223372036854775808n), '-9223372036854775808');
    assert.equal(toPgParam(18446744073709551615n), '18446744073709551615');
    assert.equal(toPgParam('it\'s "quoted"\\ ; DROP'), 'it\'s "quoted"\\ ; DROP');
    assert.equal(toPgParam(new Uint8Array([0, 1, 0xab, 0xff])), '\\x0001abff');
    assert.equal(toPgParam(new Uint8Array(new Uint8Array([9, 1, 2, 9]).buffer, 1, 2)), '\\x0102');
    assert.equal(toPgParam(new Uint8Array()), '\\x');
  });

  test('floats: shortest round trip, special values, negative zero', () => {
    assert.equal(toPgParam(0.1), '0.1');
    assert.equal(toPgParam(1 / 3), '0.3333333333333333');
    assert.equal(toPgParam(1e21), '1e+21');
    assert.equal(toPgParam(5e-324), '5e-324');
    assert.equal(toPgParam(-0), '-0');
    assert.equal(toPgParam(NaN), 'NaN');
    assert.equal(toPgParam(Infinity), 'Infinity');
    assert.equal(toPgParam(-Infinity), '-Infinity');
    for (const v of [Math.PI, -1.7976931348623157e308, 2.2250738585072014e-308, 123456789.125]) {
      assert.equal(Number(toPgParam(v)), v);
    }
  });

  test('decimal, uuid and json pass their text through', () => {
    assert.equal(toPgParam({ kind: 'decimal', text: '-12345678901234567890.000001' }), '-12345678901234567890.000001');
    assert.equal(toPgParam({ kind: 'decimal', text: 'NaN' }), 'NaN');
    assert.equal(toPgParam({ kind: 'uuid', text: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    assert.equal(toPgParam({ kind: 'json', text: '{"a": [1, "x\\"y"]}' }), '{"a": [1, "x\\"y"]}');
  });

  test('UNCHANGED has no text form', () => {
    assert.throws(() => toPgParam(UNCHANGED), RangeError);
  });
});

describe('dates', () => {
  const date = (days: number) => toPgParam({ kind: 'date', days });

  test('known dates, BC (year 0 = 1 BC) and years beyond 9999', () => {
    assert.equal(date(0), '1970-01-01');
    assert.equal(date(-1), '1969-12-31');
    assert.equal(date(11016), '2000-02-29');
    assert.equal(date(utcDays(1, 1, 1)), '0001-01-01');
    assert.equal(date(utcDays(0, 12, 31)), '0001-12-31 BC');
    assert.equal(date(utcDays(-43, 3, 15)), '0044-03-15 BC');
    assert.equal(date(-2440588), '4714-11-24 BC'); // Julian day 0, PostgreSQL's minimum
    assert.equal(date(utcDays(10000, 1, 1)), '10000-01-01');
    assert.equal(date(2147483494 - 2440588 - 1), '5874897-12-31'); // PostgreSQL's maximum date
  });

  test('infinity sentinels', () => {
    assert.equal(date(DATE_INFINITY), 'infinity');
    assert.equal(date(DATE_MINUS_INFINITY), '-infinity');
  });

  test('civilFromDays agrees with Date over its whole range, sampled', () => {
    const min = -100_000_000;
    const max = 100_000_000;
    for (let days = min; days <= max; days += 9_973) {
      const d = new Date(days * DAY_MS);
      assert.deepEqual(civilFromDays(days), { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() }, `days ${days}`);
    }
    for (let days = -800_000; days <= 3_000_000; days++) {
      if (days % 997 !== 0 && days !== -719163 && days !== -719162) continue;
      const d = new Date(days * DAY_MS);
      assert.equal(civilFromDays(days).day, d.getUTCDate());
    }
  });
});

describe('times and timestamps', () => {
  test('time and timetz', () => {
    assert.equal(toPgParam({ kind: 'time', micros: 0 }), '00:00:00.000000');
    assert.equal(toPgParam({ kind: 'time', micros: 45_296_000_007 }), '12:34:56.000007');
    assert.equal(toPgParam({ kind: 'time', micros: 86_400_000_000 }), '24:00:00.000000');
    assert.equal(toPgParam({ kind: 'timetz', micros: 45_296_123_456, offsetSeconds: 19_800 }), '12:34:56.123456+05:30:00');
    assert.equal(toPgParam({ kind: 'timetz', micros: 1, offsetSeconds: -1 }), '00:00:00.000001-00:00:01');
    assert.equal(toPgParam({ kind: 'timetz', micros: 1, offsetSeconds: -50_400 }), '00:00:00.000001-14:00:00');
  });

  test('timestamp and timestamptz with microseconds, before the epoch, BC and infinity', () => {
    assert.equal(toPgParam({ kind: 'timestamp', micros: 0 }), '1970-01-01 00:00:00.000000');
    assert.equal(toPgParam({ kind: 'timestamp', micros: -1 }), '1969-12-31 23:59:59.999999');
    assert.equal(toPgParam({ kind: 'timestamptz', micros: 1_700_000_000_123_456 }), '2023-11-14 22:13:20.123456+00');
    // Beyond 2^53 micros (about 1685..2255) doubles are not exact; this BC instant is (a multiple of 2^13).
    const bc = utcDays(0, 6, 1) * 86_400_000_000 + 3_600_000_000;
    assert.equal(toPgParam({ kind: 'timestamp', micros: bc }), '0001-06-01 01:00:00.000000 BC');
    assert.equal(toPgParam({ kind: 'timestamptz', micros: bc }), '0001-06-01 01:00:00.000000 BC+00');
    assert.equal(toPgParam({ kind: 'timestamp', micros: Infinity }), 'infinity');
    assert.equal(toPgParam({ kind: 'timestamptz', micros: -Infinity }), '-infinity');
    assert.equal(toPgParam({ kind: 'timestamptz', micros: Number.MAX_SAFE_INTEGER }), '2255-06-05 23:47:34.740991+00');
  });

  test('interval: every field signed, integer microseconds', () => {
    assert.equal(toPgParam({ kind: 'interval', months: 14, days: 3, micros: -1 }), '+14 mons +3 days -1 microseconds');
    assert.equal(toPgParam({ kind: 'interval', months: -14, days: 0, micros: 0 }), '-14 mons +0 days +0 microseconds');
    assert.equal(
      toPgParam({ kind: 'interval', months: 0, days: 0, micros: -Number.MAX_SAFE_INTEGER }),
      '+0 mons +0 days -9007199254740991 microseconds',
    );
  });
});

describe('arrays', () => {
  const arr = (dims: number[], items: Value[], lower = dims.map(() => 1)): Value => ({ kind: 'array', dims, lower, items });

  test('one dimension with NULL and text that needs escaping', () => {
    assert.equal(toPgParam(arr([4], [1n, null, -3n, 4n])), '{"1",NULL,"-3","4"}');
    assert.equal(toPgParam(arr([4], ['NULL', 'a,b', 'q"\\', '{}'])), '{"NULL","a,b","q\\"\\\\","{}"}');
    assert.equal(toPgParam(arr([2], ['', ' x '])), '{""," x "}');
  });

  test('empty and multi-dimensional arrays, lower bounds', () => {
    assert.equal(toPgParam(arr([], [])), '{}');
    assert.equal(toPgParam(arr([2, 3], [1n, 2n, 3n, 4n, 5n, null])), '{{"1","2","3"},{"4","5",NULL}}');
    assert.equal(toPgParam(arr([2], ['a', 'b'], [0])), '[0:1]={"a","b"}');
    assert.equal(toPgParam(arr([1, 2], [true, false], [-2, 1])), '[-2:-2][1:2]={{"t","f"}}');
  });

  test('elements of every kind use their scalar text', () => {
    const items: Value[] = [
      new Uint8Array([0xde, 0xad]),
      { kind: 'date', days: -2440588 },
      { kind: 'timestamptz', micros: 0 },
      { kind: 'decimal', text: '1.50' },
      NaN,
    ];
    assert.equal(toPgParam(arr([5], items)), '{"\\\\xdead","4714-11-24 BC","1970-01-01 00:00:00.000000+00","1.50","NaN"}');
  });

  test('item count must match the dimensions; nested arrays and UNCHANGED are refused', () => {
    assert.throws(() => toPgParam(arr([3], [1n, 2n])), RangeError);
    assert.throws(() => toPgParam(arr([1], [1n, 2n])), RangeError);
    assert.throws(() => toPgParam(arr([1], [arr([1], [1n])])), RangeError);
    assert.throws(() => toPgParam(arr([1], [UNCHANGED])), RangeError);
  });
});
