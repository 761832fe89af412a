import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pgoutput, UNCHANGED_TOAST } from '../../../test/support/pgoutput-builder.js';
import type { FixtureColumn } from '../../../test/support/pgoutput-builder.js';
import { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { DATE_INFINITY, DATE_MINUS_INFINITY, decodeRow, RowWriter, UNCHANGED } from '../../../proto/tributary/v1/row-codec.js';
import type { Value } from '../../../proto/tributary/v1/row-codec.js';
import { AgentError } from '../../errors.js';
import { REPLICATION_SESSION_SETTINGS, RowConverter } from './convert.js';
import type { ConvertColumn } from './convert.js';
import { daysFromCivil, parseTimestamp } from './convert-temporal.js';
import { decodePgOutput } from './protocol.js';
import type { TupleData } from './protocol.js';
import { PgTypeCatalog } from './types.js';

const utf8 = new TextEncoder();

function column(name: string, kind: ValueKind, opts: { key?: boolean; element?: ValueKind; delimiter?: string } = {}): ConvertColumn {
  return {
    name,
    key: opts.key ?? false,
    resolved: {
      kind,
      elementKind: opts.element ?? ValueKind.UNSPECIFIED,
      sourceType: `kind${kind}`,
      arrayDims: opts.element === undefined ? 0 : 1,
      elementTypeOid: 0,
      delimiter: opts.delimiter ?? ',',
    },
  };
}

/** Builds the tuple as pgoutput would send it, so the converter walks real TupleData. */
function tupleOf(values: readonly FixtureColumn[]): TupleData {
  const msg = decodePgOutput(pgoutput.insert(1, values).build());
  assert.ok(msg.tag === 'insert');
  return msg.newTuple;
}

function convertRow(columns: readonly ConvertColumn[], values: readonly FixtureColumn[]): Value[] {
  const w = new RowWriter(16);
  new RowConverter('public.t', columns).writeRow(tupleOf(values), w);
  return decodeRow(w.finish());
}

function one(kind: ValueKind, text: string, opts: { element?: ValueKind; delimiter?: string } = {}): Value {
  const [v] = convertRow([column('c', kind, opts)], [text]);
  return v as Value;
}

function rejects(kind: ValueKind, text: string, reason?: RegExp, opts: { element?: ValueKind } = {}): void {
  assert.throws(
    () => one(kind, text, opts),
    (e: unknown) => {
      assert.ok(e instanceof AgentError, `${JSON.stringify(text)}: expected AgentError, got ${String(e)}`);
      assert.equal(e.kind, 'protocol');
      assert.ok(e.message.startsWith(`public.t.c (kind${kind}): cannot convert `), e.message);
      if (reason !== undefined) assert.match(e.message, reason);
      return true;
    },
    `${JSON.stringify(text)} should be rejected`,
  );
}

const K = ValueKind;

describe('RowConverter scalars', () => {
  it('exports the session settings the parsers assume', () => {
    assert.deepEqual(REPLICATION_SESSION_SETTINGS, {
      DateStyle: 'ISO, MDY', TimeZone: 'UTC', IntervalStyle: 'iso_8601', extra_float_digits: '3', bytea_output: 'hex',
    });
  });

  it('converts booleans', () => {
    assert.equal(one(K.BOOL, 't'), true);
    assert.equal(one(K.BOOL, 'f'), false);
    for (const bad of ['', 'true', 'x', 'tt']) rejects(K.BOOL, bad);
  });

  it('converts integers exactly, including the int8 extremes', () => {
    const cases: Array<[ValueKind, string, bigint]> = [
      [K.INT16, '-32768', -32768n], [K.INT32, '2147483647', 2147483647n], [K.INT32, '0', 0n],
      [K.INT64, '999999999999999', 999999999999999n], [K.INT64, '-1234567890123456', -1234567890123456n],
      [K.INT64, '9007199254740993', 9007199254740993n],
      [K.INT64, '9223372036854775807', 9223372036854775807n], [K.INT64, '-9223372036854775808', -9223372036854775808n],
    ];
    for (const [kind, text, want] of cases) assert.equal(one(kind, text), want, text);
    for (const bad of ['', '-', '1.5', ' 1', '1e3', '0x10', '9223372036854775808', '-9223372036854775809', '12345678901234567890']) {
      rejects(K.INT64, bad);
    }
  });

  it('converts floats, including NaN and infinities', () => {
    assert.equal(one(K.FLOAT64, '1.5'), 1.5);
    assert.equal(one(K.FLOAT64, '0.3333333333333333'), 1 / 3);
    assert.ok(Object.is(one(K.FLOAT64, '-0'), -0));
    assert.equal(one(K.FLOAT64, '1e+20'), 1e20);
    assert.equal(one(K.FLOAT64, '4.9e-324'), 5e-324);
    assert.equal(one(K.FLOAT64, '1.7976931348623157e+308'), Number.MAX_VALUE);
    assert.ok(Number.isNaN(one(K.FLOAT64, 'NaN')));
    assert.equal(one(K.FLOAT64, 'Infinity'), Infinity);
    assert.equal(one(K.FLOAT32, '-Infinity'), -Infinity);
    assert.equal(Math.fround(one(K.FLOAT32, '0.1') as number), Math.fround(0.1));
    assert.equal(one(K.FLOAT32, '3.4028235e+38'), 3.4028235e38);
    for (const bad of ['', '0x10', ' 1', 'inf', '+Infinity', 'nan', '1..2', 'e']) rejects(K.FLOAT64, bad);
  });

  it('keeps numeric text exactly', () => {
    const cases = [
      '12.50', '0', '-0.000000000000000000000000000001',
      '123456789012345678901234567890.123456789012345678901234567890', 'NaN', 'Infinity', '-Infinity',
    ];
    for (const text of cases) assert.deepEqual(one(K.DECIMAL, text), { kind: 'decimal', text });
    const long = `${'9'.repeat(1000)}.${'1'.repeat(1000)}`;
    assert.deepEqual(one(K.DECIMAL, long), { kind: 'decimal', text: long });
    for (const bad of ['', '1e5', '1.', '.5', '--1', '1,5', 'nan', '+1']) rejects(K.DECIMAL, bad);
  });

  it('copies text bytes, keeps empty string apart from NULL and unchanged TOAST', () => {
    const cols = [column('a', K.TEXT), column('b', K.TEXT), column('c', K.TEXT), column('d', K.TEXT), column('e', K.ENUM)];
    assert.deepEqual(convertRow(cols, ['', null, UNCHANGED_TOAST, 'héllo 🌊🎉 𝄞 \u0000 end', 'happy']), [
      '', null, UNCHANGED, 'héllo 🌊🎉 𝄞 \u0000 end', 'happy',
    ]);
  });

  it('converts json and jsonb as JSON text', () => {
    assert.deepEqual(one(K.JSON, '{"a": [1, 2.50, "🌊"]}'), { kind: 'json', text: '{"a": [1, 2.50, "🌊"]}' });
    assert.deepEqual(one(K.JSONB, 'null'), { kind: 'json', text: 'null' });
  });

  it('converts hex bytea', () => {
    assert.deepEqual(one(K.BYTES, '\\x'), new Uint8Array(0));
    assert.deepEqual(one(K.BYTES, '\\x00ff10Ab'), Uint8Array.of(0, 255, 16, 0xab));
    const big = `\\x${'ab'.repeat(5000)}`;
    assert.deepEqual(one(K.BYTES, big), new Uint8Array(5000).fill(0xab));
    for (const bad of ['', '\\', '\\x0', '\\xzz', 'abc', '\\000']) rejects(K.BYTES, bad);
  });

  it('converts uuids to 16 bytes', () => {
    const text = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
    assert.deepEqual(one(K.UUID, text), { kind: 'uuid', text });
    for (const bad of ['', 'a0eebc999c0b4ef8bb6d6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g', 'a0eebc99-9c0b-4ef8-bb6d6-bb9bd380a11']) {
      rejects(K.UUID, bad);
    }
  });
});

describe('RowConverter temporal values', () => {
  it('converts dates, BC years, 5-digit years and infinities', () => {
    const date = (text: string): Value => one(K.DATE, text);
    assert.deepEqual(date('1970-01-01'), { kind: 'date', days: 0 });
    assert.deepEqual(date('2024-02-29'), { kind: 'date', days: 19782 });
    assert.deepEqual(date('0001-01-01'), { kind: 'date', days: -719162 });
    assert.deepEqual(date('0001-12-31 BC'), { kind: 'date', days: -719163 }, '1 BC is astronomical year 0');
    assert.deepEqual(date('0001-01-01 BC'), { kind: 'date', days: -719528 }, 'year 0 is a leap year');
    assert.deepEqual(date('4714-11-24 BC'), { kind: 'date', days: -2440588 }, 'Julian day 0');
    assert.deepEqual(date('12345-01-01'), { kind: 'date', days: daysFromCivil(12345, 1, 1) });
    assert.deepEqual(date('5874897-12-31'), { kind: 'date', days: 2145042905 }, "PostgreSQL's last date");
    assert.deepEqual(date('infinity'), { kind: 'date', days: DATE_INFINITY });
    assert.deepEqual(date('-infinity'), { kind: 'date', days: DATE_MINUS_INFINITY });
    for (const bad of ['', '2023-02-29', '2020-13-01', '2020-00-10', '20-01-01', '2020-1-01', '2020-01-01 AD', '0000-01-01', 'BC', ' BC']) {
      rejects(K.DATE, bad);
    }
  });

  it('checks daysFromCivil against Date for a spread of years', () => {
    for (const y of [-4713, -1, 0, 1, 99, 1582, 1600, 1900, 1969, 2000, 2100, 9999, 275760]) {
      const d = new Date(0);
      d.setUTCFullYear(y, 2, 1);
      assert.equal(daysFromCivil(y, 3, 1), Math.round(d.getTime() / 86_400_000), `year ${y}`);
    }
  });

  it('converts times, including 24:00:00 and microseconds', () => {
    assert.deepEqual(one(K.TIME, '00:00:00'), { kind: 'time', micros: 0 });
    assert.deepEqual(one(K.TIME, '12:34:56.789'), { kind: 'time', micros: 45_296_789_000 });
    assert.deepEqual(one(K.TIME, '23:59:59.999999'), { kind: 'time', micros: 86_399_999_999 });
    assert.deepEqual(one(K.TIME, '24:00:00'), { kind: 'time', micros: 86_400_000_000 });
    assert.deepEqual(one(K.TIME, '00:00:00.000001'), { kind: 'time', micros: 1 });
    for (const bad of ['', '24:00:01', '12:60:00', '12:00:60', '1:00:00', '12:00', '12:00:00.', '12:00:00.1234567', '12:00:00+00']) {
      rejects(K.TIME, bad);
    }
  });

  it('converts times with zone, keeping local time and an east-positive offset', () => {
    assert.deepEqual(one(K.TIMETZ, '12:34:56.789+05:30'), { kind: 'timetz', micros: 45_296_789_000, offsetSeconds: 19_800 });
    assert.deepEqual(one(K.TIMETZ, '12:34:56-03:00:00'), { kind: 'timetz', micros: 45_296_000_000, offsetSeconds: -10_800 });
    assert.deepEqual(one(K.TIMETZ, '12:34:56-03'), { kind: 'timetz', micros: 45_296_000_000, offsetSeconds: -10_800 });
    assert.deepEqual(one(K.TIMETZ, '12:00:00+05:30:15'), { kind: 'timetz', micros: 43_200_000_000, offsetSeconds: 19_815 });
    assert.deepEqual(one(K.TIMETZ, '00:00:00+00'), { kind: 'timetz', micros: 0, offsetSeconds: 0 });
    for (const bad of ['12:00:00', '12:00:00+5', '12:00:00+05:3', '12:00:00 +05', '12:00:00+05:60']) rejects(K.TIMETZ, bad);
  });

  it('converts timestamps with microseconds, offsets and infinities', () => {
    const ts = (kind: ValueKind, text: string): Value => one(kind, text);
    assert.deepEqual(ts(K.TIMESTAMP, '1970-01-01 00:00:00'), { kind: 'timestamp', micros: 0 });
    assert.deepEqual(ts(K.TIMESTAMP, '2024-05-06 07:08:09.123456'), { kind: 'timestamp', micros: 1_714_979_289_123_456 });
    assert.deepEqual(ts(K.TIMESTAMPTZ, '2024-05-06 07:08:09.123456+00'), { kind: 'timestamptz', micros: 1_714_979_289_123_456 });
    assert.deepEqual(ts(K.TIMESTAMPTZ, '2024-05-06 12:38:09.123456+05:30'), { kind: 'timestamptz', micros: 1_714_979_289_123_456 });
    assert.deepEqual(ts(K.TIMESTAMPTZ, '1969-12-31 23:59:59.999999+00'), { kind: 'timestamptz', micros: -1 });
    assert.deepEqual(ts(K.TIMESTAMPTZ, '1900-01-01 00:00:00.5+00'), { kind: 'timestamptz', micros: -2_208_988_799_500_000 });
    assert.deepEqual(ts(K.TIMESTAMPTZ, 'infinity'), { kind: 'timestamptz', micros: Infinity });
    assert.deepEqual(ts(K.TIMESTAMP, '-infinity'), { kind: 'timestamp', micros: -Infinity });
    for (const bad of ['', '2024-05-06', '2024-05-06T07:08:09', '2024-05-06 07:08:09+00', '2024-05-06 07:08']) rejects(K.TIMESTAMP, bad);
    for (const bad of ['2024-05-06 07:08:09', '2024-05-06 07:08:09+00 AD', '2024-05-06 07:08:09+0']) rejects(K.TIMESTAMPTZ, bad);
  });

  it('parses ancient and far-future timestamps exactly', () => {
    const at = (text: string, tz: boolean): number | bigint => {
      const b = utf8.encode(text);
      return parseTimestamp(b, 0, b.length, tz);
    };
    const caesar = new Date(0);
    caesar.setUTCFullYear(-43, 2, 15);
    caesar.setUTCHours(12);
    assert.equal(at('0044-03-15 12:00:00.500001+00 BC', true), BigInt(caesar.getTime()) * 1000n + 500_001n);
    assert.equal(at('0044-03-15 12:00:00.500001 BC', false), BigInt(caesar.getTime()) * 1000n + 500_001n);
    assert.equal(at('4714-11-24 00:00:00+00 BC', true), -210_866_803_200_000_000n);
    assert.equal(at('294276-12-31 23:59:59.999999', false), 9_224_318_015_999_999_999n);
    assert.equal(at('0001-01-01 00:00:00.000001', false), -62_135_596_799_999_999n);
    assert.equal(at('2112-01-01 00:00:00', false), 4_481_049_600_000_000);
  });

  it('carries timestamps far from 1970 exactly, as bigint microseconds', () => {
    assert.deepEqual(one(K.TIMESTAMP, '9999-12-31 23:59:59.999999'), { kind: 'timestamp', micros: 253_402_300_799_999_999n });
    assert.deepEqual(one(K.TIMESTAMP, '0001-01-01 00:00:00'), { kind: 'timestamp', micros: -62_135_596_800_000_000n });
    assert.deepEqual(one(K.TIMESTAMPTZ, '0044-03-15 12:00:00+00 BC'), { kind: 'timestamptz', micros: -63_517_780_800_000_000n });
  });

  it('converts ISO 8601 intervals with signed components', () => {
    const iv = (text: string): Value => one(K.INTERVAL, text);
    const hms = (h: number, m: number, s: number, us: number): number => ((h * 60 + m) * 60 + s) * 1e6 + us;
    assert.deepEqual(iv('PT0S'), { kind: 'interval', months: 0, days: 0, micros: 0 });
    assert.deepEqual(iv('P1Y2M3DT4H5M6.789S'), { kind: 'interval', months: 14, days: 3, micros: hms(4, 5, 6, 789_000) });
    assert.deepEqual(iv('P-1Y-2M3DT-4H-5M-6.789S'), { kind: 'interval', months: -14, days: 3, micros: -hms(4, 5, 6, 789_000) });
    assert.deepEqual(iv('PT-0.5S'), { kind: 'interval', months: 0, days: 0, micros: -500_000 });
    assert.deepEqual(iv('PT0.000001S'), { kind: 'interval', months: 0, days: 0, micros: 1 });
    assert.deepEqual(iv('P1M-1D'), { kind: 'interval', months: 1, days: -1, micros: 0 });
    assert.deepEqual(iv('PT100000H'), { kind: 'interval', months: 0, days: 0, micros: 360_000_000_000_000 });
    assert.deepEqual(iv('P-178956970Y-8M'), { kind: 'interval', months: -2147483648, days: 0, micros: 0 });
    for (const bad of ['', 'P', 'PT', '1Y', 'P1X', 'PT1.5H', 'P1.5D', 'P1', 'PT1S2', 'P1H', 'PT1D', 'P--1D', 'PT99999999999999999H']) {
      rejects(K.INTERVAL, bad);
    }
  });
});

describe('RowConverter arrays', () => {
  const arr = (element: ValueKind, text: string, delimiter = ','): Value => one(K.ARRAY, text, { element, delimiter });
  const a = (dims: number[], lower: number[], items: Value[]): Value => ({ kind: 'array', dims, lower, items });

  it('converts empty, one- and two-dimensional arrays', () => {
    assert.deepEqual(arr(K.INT32, '{}'), a([], [], []));
    assert.deepEqual(arr(K.INT32, '{1,-2,3}'), a([3], [1], [1n, -2n, 3n]));
    assert.deepEqual(arr(K.INT32, '{{1,2},{3,4}}'), a([2, 2], [1, 1], [1n, 2n, 3n, 4n]));
    assert.deepEqual(arr(K.INT32, '{{{1},{2}},{{3},{4}}}'), a([2, 2, 1], [1, 1, 1], [1n, 2n, 3n, 4n]));
  });

  it('honours a bounds prefix', () => {
    assert.deepEqual(arr(K.INT32, '[0:2]={1,2,3}'), a([3], [0], [1n, 2n, 3n]));
    assert.deepEqual(arr(K.INT32, '[2:3][-1:0]={{1,2},{3,4}}'), a([2, 2], [2, -1], [1n, 2n, 3n, 4n]));
  });

  it('handles NULL and quoted elements with delimiters, quotes and backslashes', () => {
    const text = '{"a,b","q\\"x","b\\\\s",NULL,null,"","NULL"," sp","{}",plain,"🌊"}';
    assert.deepEqual(arr(K.TEXT, text), a([11], [1], ['a,b', 'q"x', 'b\\s', null, null, '', 'NULL', ' sp', '{}', 'plain', '🌊']));
  });

  it('converts elements with the element kind', () => {
    assert.deepEqual(arr(K.TIMESTAMPTZ, '{"2020-01-01 00:00:00+00",NULL}'), a([2], [1], [{ kind: 'timestamptz', micros: 1_577_836_800_000_000 }, null]));
    assert.deepEqual(arr(K.BYTES, '{"\\\\x01ff"}'), a([1], [1], [Uint8Array.of(1, 255)]));
    assert.deepEqual(arr(K.DECIMAL, '{1.5,NaN}'), a([2], [1], [{ kind: 'decimal', text: '1.5' }, { kind: 'decimal', text: 'NaN' }]));
    assert.deepEqual(arr(K.BOOL, '{t,f}'), a([2], [1], [true, false]));
    assert.deepEqual(arr(K.JSONB, '{"{\\"a\\": 1}"}'), a([1], [1], [{ kind: 'json', text: '{"a": 1}' }]));
    assert.deepEqual(arr(K.INTERVAL, '{PT1S,P-1D}'), a([2], [1], [
      { kind: 'interval', months: 0, days: 0, micros: 1_000_000 }, { kind: 'interval', months: 0, days: -1, micros: 0 },
    ]));
  });

  it("uses the element type's delimiter (box uses ';')", () => {
    assert.deepEqual(arr(K.TEXT, '{(3,4),(1,2);(1,1),(0,0)}', ';'), a([2], [1], ['(3,4),(1,2)', '(1,1),(0,0)']));
  });

  it('rejects malformed arrays', () => {
    const bad = [
      '', '1,2', '{1,2', '{1,2}}', '{{1,2},{3}}', '{1,{2}}', '{{1},2}', '{1,,2}', '{,1}', '{1,}', '{"abc}', '{a b}',
      '{1} ', '{1}{2}', '[0:1]={1,2,3}', '[1:2]={{1,2},{3,4}}', '[1:1]{1}', '[2:1]={}', '{{}}', '{{1},{}}', 'x', '{{{{{{{1}}}}}}}',
    ];
    for (const text of bad) rejects(K.ARRAY, text, undefined, { element: K.INT32 });
    rejects(K.ARRAY, '{1,x}', /bad integer/, { element: K.INT32 });
  });
});

describe('RowConverter rows and keys', () => {
  const columns = [
    column('id', K.INT64, { key: true }), column('name', K.TEXT), column('price', K.DECIMAL),
    column('at', K.TIMESTAMPTZ), column('ok', K.BOOL), column('region', K.TEXT, { key: true }),
  ];
  const row: FixtureColumn[] = ['9223372036854775807', 'Ünïcode ✓', '12.50', '2024-05-06 07:08:09.123456+00', 't', 'eu'];

  it('writes every column in order', () => {
    assert.deepEqual(convertRow(columns, row), [
      9223372036854775807n, 'Ünïcode ✓', { kind: 'decimal', text: '12.50' },
      { kind: 'timestamptz', micros: 1_714_979_289_123_456 }, true, 'eu',
    ]);
  });

  it('writes only key columns, in column order', () => {
    const w = new RowWriter();
    const conv = new RowConverter('public.t', columns);
    assert.equal(conv.keyCount, 2);
    conv.writeKey(tupleOf(row), w);
    assert.deepEqual(decodeRow(w.finish()), [9223372036854775807n, 'eu']);
    // A delete with REPLICA IDENTITY DEFAULT sends non-key columns as NULL.
    conv.writeKey(tupleOf(['1', null, null, null, null, 'us']), w.reset());
    assert.deepEqual(decodeRow(w.finish()), [1n, 'us']);
  });

  it('reuses one writer across rows', () => {
    const w = new RowWriter(8);
    const conv = new RowConverter('public.t', columns);
    for (let i = 0; i < 3; i++) {
      conv.writeRow(tupleOf([String(i), null, UNCHANGED_TOAST, 'infinity', 'f', '']), w.reset());
      assert.deepEqual(decodeRow(w.finish()), [BigInt(i), null, UNCHANGED, { kind: 'timestamptz', micros: Infinity }, false, '']);
    }
  });

  it('names table, column and the text (cut to 80 characters) in errors', () => {
    const long = `x${'y'.repeat(200)}`;
    assert.throws(
      () => convertRow([column('id', K.INT64), column('amount', K.DECIMAL)], ['1', long]),
      (e: unknown) => {
        assert.ok(e instanceof AgentError && e.kind === 'protocol');
        assert.equal(e.message, `public.t.amount (kind7): cannot convert ${JSON.stringify(`${long.slice(0, 80)}…`)}: bad numeric`);
        return true;
      },
    );
  });

  it('rejects binary tuple data and column-count mismatches', () => {
    assert.throws(() => convertRow([column('b', K.BYTES)], [{ binary: Uint8Array.of(1) }]), /binary tuple data was not requested/);
    assert.throws(() => convertRow([column('a', K.TEXT)], ['x', 'y']), /tuple has 2 columns, relation has 1/);
  });

  it('is built from a Relation message through the catalog', () => {
    const catalog = new PgTypeCatalog([
      { oid: 20, typname: 'int8', namespace: 'pg_catalog', typtype: 'b', typelem: 0, typbasetype: 0, typtypmod: -1, typcategory: 'N', typdelim: ',', typarray: 1016 },
      { oid: 1016, typname: '_int8', namespace: 'pg_catalog', typtype: 'b', typelem: 20, typbasetype: 0, typtypmod: -1, typcategory: 'A', typdelim: ',', typarray: 0 },
    ]);
    const rel = decodePgOutput(pgoutput.relation(5, 'shop', 'orders', 'd', [{ name: 'id', typeOid: 20, key: true }, { name: 'ids', typeOid: 1016 }]).build());
    assert.ok(rel.tag === 'relation');
    const conv = RowConverter.forRelation(rel, catalog);
    assert.equal(conv.table, 'shop.orders');
    assert.deepEqual(conv.columns.map((c) => [c.name, c.key, c.resolved.sourceType]), [['id', true, 'bigint'], ['ids', false, 'bigint[]']]);
    const w = new RowWriter();
    conv.writeRow(tupleOf(['7', '{1,NULL}']), w);
    assert.deepEqual(decodeRow(w.finish()), [7n, { kind: 'array', dims: [2], lower: [1], items: [1n, null] }]);

    const unknown = decodePgOutput(pgoutput.relation(6, 'shop', 'x', 'd', [{ name: 'p', typeOid: 600 }]).build());
    assert.ok(unknown.tag === 'relation');
    assert.throws(() => RowConverter.forRelation(unknown, catalog), /shop\.x\.p: type OID 600 is not in the type catalog/);
  });
});
