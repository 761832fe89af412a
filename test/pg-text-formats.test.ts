/**
 * The converter against PostgreSQL's own output functions: every value below is
 * printed by a real server under REPLICATION_SESSION_SETTINGS (the same output
 * functions the walsender uses for pgoutput text tuples), converted, decoded
 * from the row encoding, and compared with the value computed independently
 * in SQL (epoch arithmetic, date subtraction, send functions, ...).
 *
 * Needs PostgreSQL at 127.0.0.1:5432, user postgres, trust auth. If it is not
 * reachable the test fails; it never skips.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { decodeRow, RowWriter, UNCHANGED } from '../proto/tributary/v1/row-codec.js';
import type { Value } from '../proto/tributary/v1/row-codec.js';
import { ValueKind } from '../proto/gen/tributary/v1/change_pb.js';
import { REPLICATION_SESSION_SETTINGS, RowConverter } from '../agent/sources/postgres/convert.js';
import { parseTimestamp } from '../agent/sources/postgres/convert-temporal.js';
import { decodePgOutput } from '../agent/sources/postgres/protocol.js';
import { PG_TYPE_CATALOG_SQL, PgTypeCatalog } from '../agent/sources/postgres/types.js';
import type { PgTypeRow } from '../agent/sources/postgres/types.js';
import { pgoutput } from './support/pgoutput-builder.js';

const schema = `tributary_fmt_${process.pid}_${Date.now()}`;
/** Every column comes back as PostgreSQL's text, never parsed by pg. */
const rawText = { getTypeParser: () => (v: string) => v };

let client: pg.Client;
let catalog: PgTypeCatalog;

type Expect = (value: Value, expected: readonly (string | null)[], text: string) => void;

interface TypeCase {
  readonly type: string;
  readonly literals: readonly string[];
  /** SQL expressions over `$v`, computed independently of the text output. */
  readonly expected: readonly string[];
  readonly check: Expect;
}

async function query(text: string, values: unknown[] = []): Promise<Array<Record<string, string | null>>> {
  const res = await client.query<Record<string, string | null>>({ text, values, types: rawText });
  return res.rows;
}

function convert(typeOid: number, text: string): Value {
  const resolved = catalog.resolve(typeOid, -1);
  assert.ok(resolved, `type ${typeOid} resolves`);
  const conv = new RowConverter('test.values', [{ name: 'v', key: false, resolved }]);
  const msg = decodePgOutput(pgoutput.insert(1, [text]).build());
  assert.ok(msg.tag === 'insert');
  const w = new RowWriter();
  conv.writeRow(msg.newTuple, w);
  const [v] = decodeRow(w.finish());
  assert.notEqual(v, UNCHANGED);
  return v as Value;
}

function field<K extends string>(v: Value, kind: K): Extract<Value, { kind: K }> {
  assert.ok(typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && v.kind === kind, `expected ${kind}, got ${String(v)}`);
  return v as Extract<Value, { kind: K }>;
}

function float(bits: string | null, single: boolean): number {
  const b = Buffer.from((bits ?? '').slice(2), 'hex');
  return single ? b.readFloatBE(0) : b.readDoubleBE(0);
}

const hex = (v: Value): string => Buffer.from(v as Uint8Array).toString('hex');
const utf8Hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

const timestampCase = (type: string, kind: 'timestamp' | 'timestamptz', literals: string[]): TypeCase => ({
  type,
  literals,
  // Via an interval from 2000-01-01: extract(epoch FROM ts) rounds near the ends of the range.
  expected: [
    `CASE WHEN isfinite($v) THEN (extract(epoch FROM $v - ${type} '2000-01-01 00:00:00+00') * 1000000 + 946684800000000)::numeric(30,0)::text ELSE $v::text END`,
  ],
  check: (v, [e], text) => {
    if (e === 'infinity' || e === '-infinity') return assert.deepEqual(v, { kind, micros: e === 'infinity' ? Infinity : -Infinity });
    assert.equal(field(v, kind).micros, Number(e));
  },
});

const scalars: TypeCase[] = [
  { type: 'boolean', literals: ['true', 'false'], expected: ['$v::int'], check: (v, [e]) => assert.equal(v, e === '1') },
  ...['smallint', 'integer', 'bigint'].map((type): TypeCase => ({
    type,
    literals: type === 'smallint' ? ['-32768', '32767', '0'] : type === 'integer' ? ['-2147483648', '2147483647'] :
      ['-9223372036854775808', '9223372036854775807', '9007199254740993', '-999999999999999', '1234567890123456'],
    expected: ['$v::numeric::text'],
    check: (v, [e]) => assert.equal(v, BigInt(e ?? '')),
  })),
  {
    type: 'real',
    literals: ['0.1', '1e20', '-1.5', '3.4028235e38', '1e-45', 'NaN', 'Infinity', '-Infinity', '-0', '16777217', '1.17549435e-38'],
    expected: ['float4send($v)'],
    check: (v, [e]) => assert.ok(Object.is(Math.fround(v as number), float(e ?? null, true)), `${String(v)} vs float4 ${e}`),
  },
  {
    type: 'double precision',
    literals: ['0.1', '0.3333333333333333', '1e308', '5e-324', '-0', 'NaN', 'Infinity', '-Infinity', '123456789.123456789', '2.718281828459045'],
    expected: ['float8send($v)'],
    check: (v, [e]) => assert.ok(Object.is(v, float(e ?? null, false)), `${String(v)} vs float8 ${e}`),
  },
  {
    type: 'numeric',
    literals: ['0', '12.50', '-0.000000000000000000000000000001', '123456789012345678901234567890.123456789012345678901234567890', 'NaN', 'Infinity', '-Infinity', '1e-20', '-1e30'],
    expected: ['$v::text'],
    check: (v, [e]) => assert.deepEqual(v, { kind: 'decimal', text: e }),
  },
  ...['text', 'character varying(10)', 'character(5)', 'name'].map((type): TypeCase => ({
    type,
    literals: type === 'text' ? ['', 'héllo', '🌊🎉𝄞 emoji', 'tab\there\nnewline', 'quote\'s "double" \\backslash'] : ['ab', 'é✓'],
    // format() keeps character(n)'s padding, which a cast to text strips.
    expected: ["encode(convert_to(format('%s', $v), 'UTF8'), 'hex')"],
    check: (v, [e]) => assert.equal(utf8Hex(v as string), e),
  })),
  { type: 'bytea', literals: ['\\x', '\\x00ff10ab', 'hello'], expected: ["encode($v, 'hex')"], check: (v, [e]) => assert.equal(hex(v), e) },
  {
    type: 'uuid',
    literals: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'],
    expected: ["encode(uuid_send($v), 'hex')"],
    check: (v, [e]) => assert.equal(field(v, 'uuid').text.replace(/-/g, ''), e),
  },
  {
    type: 'date',
    literals: ['1970-01-01', '2024-02-29', '0001-01-01', '0001-12-31 BC', '4714-11-24 BC', '12345-06-07', '5874897-12-31', '1582-10-04', 'infinity', '-infinity'],
    expected: ["CASE WHEN isfinite($v) THEN ($v - date '1970-01-01')::text ELSE $v::text END"],
    check: (v, [e]) => {
      const days = field(v, 'date').days;
      assert.equal(days, e === 'infinity' ? 2147483647 : e === '-infinity' ? -2147483648 : Number(e));
    },
  },
  {
    type: 'time',
    literals: ['00:00:00', '12:34:56.789', '23:59:59.999999', '24:00:00', '00:00:00.000001'],
    expected: ['(extract(epoch FROM $v) * 1000000)::bigint'],
    check: (v, [e]) => assert.deepEqual(v, { kind: 'time', micros: Number(e) }),
  },
  {
    type: 'time with time zone',
    literals: ['12:34:56.789+05:30', '12:34:56-03', '00:00:00+00', '23:59:59.999999-12:34:56', '12:00:00+05:30:15'],
    expected: ['(extract(epoch FROM $v::time) * 1000000)::bigint', 'extract(timezone FROM $v)::int'],
    check: (v, [us, off]) => assert.deepEqual(v, { kind: 'timetz', micros: Number(us), offsetSeconds: Number(off) }),
  },
  timestampCase('timestamp', 'timestamp', [
    '1970-01-01 00:00:00', '2024-05-06 07:08:09.123456', '1900-01-01 00:00:00.5', '2100-12-31 23:59:59.999999', '1850-06-15 12:00:00',
    'infinity', '-infinity', '0044-03-15 12:00:00.5 BC', '0001-01-01 00:00:00', '12345-01-01 00:00:00', '294276-12-31 23:59:59.999999', '4714-11-24 00:00:00 BC',
  ]),
  timestampCase('timestamp with time zone', 'timestamptz', [
    '1970-01-01 00:00:00+00', '2024-05-06 07:08:09.123456+05:30', '1969-12-31 23:59:59.999999+00', '2000-02-29 12:00:00-08',
    'infinity', '-infinity', '0044-03-15 12:00:00.5+00 BC', '9999-12-31 23:59:59.999999+00', '4714-11-24 00:00:00+00 BC',
  ]),
  {
    type: 'interval',
    literals: [
      '0', '1 year 2 months 3 days 04:05:06.789', '-1 year -2 months 3 days -04:05:06.789', '-0.5 seconds', '100000 hours',
      '1 mon -1 day', '1.5 months', '-178956970 years -8 months', '0.000001 seconds',
    ],
    expected: [
      '(extract(year FROM $v) * 12 + extract(month FROM $v))::int',
      'extract(day FROM $v)::int',
      '((extract(hour FROM $v) * 3600 + extract(minute FROM $v) * 60) * 1000000 + extract(microseconds FROM $v))::bigint',
    ],
    check: (v, [m, d, us]) => assert.deepEqual(v, { kind: 'interval', months: Number(m), days: Number(d), micros: Number(us) }),
  },
  ...['json', 'jsonb'].map((type): TypeCase => ({
    type,
    literals: ['{"a": [1, 2.50, "🌊"]}', '"str"', 'null', '[]', '{"b": 1, "a": [true, null]}'],
    expected: ["$v::text"],
    check: (v, [e]) => assert.deepEqual(v, { kind: 'json', text: e }),
  })),
  { type: `${schema}.mood`, literals: ['happy', 'so-so'], expected: ['$v::text'], check: (v, [e]) => assert.equal(v, e) },
  { type: `${schema}.price`, literals: ['12.5', '-0.01'], expected: ['$v::numeric::text'], check: (v, [e]) => assert.deepEqual(v, { kind: 'decimal', text: e }) },
  ...['inet', 'point', 'int4range', 'bit(3)', 'xml', 'tsvector'].map((type): TypeCase => ({
    type,
    literals: type === 'inet' ? ['192.168.0.1/24'] : type === 'point' ? ['(1.5,-2)'] : type === 'int4range' ? ['[1,10)'] :
      type === 'bit(3)' ? ['101'] : type === 'xml' ? ['<a x="1">é</a>'] : ["'a fat' cat"],
    expected: ['$v::text'],
    check: (v, [e]) => assert.equal(v, e),
  })),
];

describe('PostgreSQL text output through the converter', () => {
  before(async () => {
    client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
    } catch (cause) {
      throw new Error(
        'pg-text-formats needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth) and could not connect; start it and rerun',
        { cause },
      );
    }
    for (const [name, value] of Object.entries(REPLICATION_SESSION_SETTINGS)) {
      await client.query('SELECT set_config($1, $2, false)', [name, value]);
    }
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(`CREATE TYPE ${schema}.mood AS ENUM ('happy', 'so-so')`);
    await client.query(`CREATE DOMAIN ${schema}.price AS numeric(12,2)`);
    const { rows } = await client.query<PgTypeRow>(PG_TYPE_CATALOG_SQL);
    catalog = new PgTypeCatalog(rows);
  });

  after(async () => {
    await client?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await client?.end();
  });

  for (const c of scalars) {
    it(`converts ${c.type}`, async () => {
      for (const literal of c.literals) {
        await checkScalar(c, literal);
      }
    });
  }

  for (const c of arrayCases()) {
    it(`converts ${c.type}`, async () => {
      for (const literal of c.literals) await checkArray(c, literal);
    });
  }

  it('names column types as format_type does', async () => {
    const types = [
      'boolean', 'smallint', 'integer', 'bigint', 'real', 'double precision', 'numeric', 'numeric(12,2)', 'numeric(5,-2)',
      'text', 'character varying', 'character varying(40)', 'character(3)', 'bpchar', '"char"', 'name', 'bytea', 'uuid', 'date',
      'time', 'time(3)', 'time with time zone', 'time(0) with time zone', 'timestamp', 'timestamp(6)', 'timestamptz', 'timestamptz(2)',
      'interval', 'interval(0)', 'interval year to month', 'interval day to second(3)', 'interval minute', 'json', 'jsonb',
      'integer[]', 'text[][]', 'character varying(40)[]', 'numeric(10,4)[]', 'timestamptz(3)[]', 'bit(3)', 'bit varying(8)',
      'inet', 'point', 'money', 'xml', 'tsvector', 'int4range', `${schema}.mood`, `${schema}.mood[]`,
    ];
    await client.query(`CREATE TABLE ${schema}.shapes (${types.map((t, i) => `c${i} ${t}`).join(', ')})`);
    const rows = await query(
      `SELECT attname, atttypid, atttypmod, format_type(atttypid, atttypmod) AS f FROM pg_attribute
       WHERE attrelid = '${schema}.shapes'::regclass AND attnum > 0 ORDER BY attnum`,
    );
    assert.equal(rows.length, types.length);
    for (const r of rows) {
      const resolved = catalog.resolve(Number(r.atttypid), Number(r.atttypmod));
      assert.equal(resolved?.sourceType, r.f, `${r.attname}`);
    }
    const domain = await query(`SELECT '${schema}.price'::regtype::oid AS oid`);
    assert.equal(catalog.resolve(Number(domain[0]?.oid), -1)?.sourceType, 'numeric(12,2)', 'a domain is named by its base type');
  });
});

async function checkScalar(c: TypeCase, literal: string): Promise<void> {
  const exprs = c.expected.map((e, i) => `${e.replaceAll('$v', 'v')} AS e${i}`).join(', ');
  const rows = await query(`SELECT v, pg_typeof(v)::oid AS oid, ${exprs} FROM (SELECT $1::${c.type} AS v) s`, [literal]);
  const r = rows[0];
  assert.ok(r);
  const text = r.v ?? '';
  const expected = c.expected.map((_, i) => r[`e${i}`] ?? null);
  const oid = Number(r.oid);
  const resolved = catalog.resolve(oid, -1);
  if (resolved?.kind === ValueKind.TIMESTAMP || resolved?.kind === ValueKind.TIMESTAMPTZ) {
    if (checkTimestampRange(oid, text, expected[0] ?? null, resolved.kind === ValueKind.TIMESTAMPTZ)) return;
  }
  try {
    c.check(convert(oid, text), expected, text);
  } catch (e) {
    throw new Error(`${c.type} ${JSON.stringify(literal)} printed as ${JSON.stringify(text)}: ${String(e)}`, { cause: e });
  }
}

/** Every timestamp PostgreSQL can hold is exact: parsed, then carried through the row encoding. */
function checkTimestampRange(oid: number, text: string, expected: string | null, withZone: boolean): boolean {
  if (expected === null || !/^-?\d+$/.test(expected)) return false;
  const want = BigInt(expected);
  const bytes = Buffer.from(text, 'utf8');
  assert.equal(BigInt(parseTimestamp(bytes, 0, bytes.length, withZone)), want, text);
  const got = convert(oid, text);
  assert.ok(got !== null && typeof got === 'object' && 'micros' in got, text);
  assert.equal(BigInt(got.micros), want, text);
  return true;
}

interface ArrayCase {
  readonly type: string;
  readonly element: TypeCase;
  readonly literals: readonly string[];
}

function arrayCases(): ArrayCase[] {
  const byType = (t: string): TypeCase => {
    const c = scalars.find((s) => s.type === t);
    assert.ok(c, t);
    return c;
  };
  const box: TypeCase = { type: 'box', literals: [], expected: ['$v::text'], check: (v, [e]) => assert.equal(v, e) };
  return [
    { type: 'integer[]', element: byType('integer'), literals: ['{1,2,3}', '[0:2]={1,2,3}', '{{1,2},{3,4}}', '[2:3][-1:0]={{1,2},{3,4}}', '{}', '{NULL,1}', '{{{1},{2}},{{3},{4}}}'] },
    { type: 'text[]', element: byType('text'), literals: ['{"a,b","q\\"x","b\\\\s",NULL,"","NULL"," sp","{}","🌊",plain}', '{{a,b},{c,NULL}}'] },
    { type: 'bigint[]', element: byType('bigint'), literals: ['{-9223372036854775808,9223372036854775807}'] },
    { type: 'numeric[]', element: byType('numeric'), literals: ['{1.5,NaN,-Infinity,0.000000000000000000000000000001}'] },
    { type: 'timestamp with time zone[]', element: byType('timestamp with time zone'), literals: ['{"2020-01-01 00:00:00+00","1999-12-31 23:59:59.999999+00",infinity,NULL}'] },
    { type: 'date[]', element: byType('date'), literals: ['{2020-01-01,infinity,"0001-01-01 BC"}'] },
    { type: 'bytea[]', element: byType('bytea'), literals: ['{"\\\\x01ff","\\\\x"}'] },
    { type: 'boolean[]', element: byType('boolean'), literals: ['{t,f,NULL}'] },
    { type: 'interval[]', element: byType('interval'), literals: ['{"1 day","-1 hour"}'] },
    { type: 'jsonb[]', element: byType('jsonb'), literals: ['{"{\\"a\\": 1}","[]"}'] },
    { type: 'uuid[]', element: byType('uuid'), literals: ['{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'] },
    { type: `${schema}.mood[]`, element: byType(`${schema}.mood`), literals: ['{happy,so-so,NULL}'] },
    { type: 'box[]', element: box, literals: ['{(1,2),(3,4);(0,0),(1,1)}'] },
  ];
}

async function checkArray(c: ArrayCase, literal: string): Promise<void> {
  const elemExprs = c.element.expected.map((e) => e.replaceAll('$v', 'e')).join(', ');
  const rows = await query(
    `SELECT v, pg_typeof(v)::oid AS oid, coalesce(array_dims(v), '') AS dims,
       (SELECT json_agg(CASE WHEN e IS NULL THEN NULL ELSE json_build_array(${elemExprs}) END) FROM unnest(v) e)::text AS items
     FROM (SELECT $1::${c.type} AS v) s`,
    [literal],
  );
  const r = rows[0];
  assert.ok(r);
  const text = r.v ?? '';
  const value = field(convert(Number(r.oid), text), 'array');
  const dims = [...(r.dims ?? '').matchAll(/\[(-?\d+):(-?\d+)\]/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
  assert.deepEqual(value.lower, dims.map(([lo]) => lo), `${text} lower bounds`);
  assert.deepEqual(value.dims, dims.map(([lo, hi]) => hi - lo + 1), `${text} dimensions`);
  const items = JSON.parse(r.items ?? '[]') as Array<Array<string | number | null> | null>;
  assert.equal(value.items.length, items.length, `${text} item count`);
  value.items.forEach((item, i) => {
    const want = items[i];
    if (want === null || want === undefined) return assert.equal(item, null, `${text} item ${i}`);
    c.element.check(item, want.map((x) => (x === null ? null : String(x))), text);
  });
}
