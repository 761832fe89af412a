/**
 * PostgresSink against a private PostgreSQL cluster. Each test runs in its own
 * database. The server runs with a non-UTC TimeZone, IntervalStyle=sql_standard
 * and DateStyle=SQL,DMY so that value input cannot lean on defaults; reads go
 * through a session set back to UTC / postgres / ISO.
 */
import { create } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { ColumnSchema, TableSchemaSchema, ValueKind, type Column, type TableSchema } from '../proto/gen/tributary/v1/change_pb.js';
import { DATE_INFINITY, DATE_MINUS_INFINITY, UNCHANGED, type Value } from '../proto/tributary/v1/row-codec.js';
import { HubError } from '../hub/errors.js';
import { PostgresSink } from '../hub/sinks/postgres/sink.js';
import type { ChangeOp, SinkChange } from '../hub/sinks/sink.js';
import { startPostgres, type PgInstance } from './support/postgres.js';

let pgi: PgInstance;
let dbCount = 0;
const signal = new AbortController().signal;

before(async () => {
  pgi = await startPostgres({ settings: { timezone: 'America/St_Johns', intervalstyle: 'sql_standard', datestyle: 'SQL, DMY' } });
});
after(async () => {
  await pgi?.stop();
});

interface Db {
  sink(opts?: { schema?: string; maxRowsPerStatement?: number }): PostgresSink;
  q<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
}

/** A fresh database, a checking client and sinks; all closed and dropped when fn settles. */
async function withDb(fn: (db: Db) => Promise<void>): Promise<void> {
  const name = `sink_test_${++dbCount}`;
  await pgi.createDatabase(name);
  const client = new pg.Client({ connectionString: pgi.connectionString(name) });
  await client.connect();
  await client.query(`SET TimeZone = 'UTC'; SET IntervalStyle = postgres; SET DateStyle = ISO`);
  const sinks: PostgresSink[] = [];
  try {
    await fn({
      sink: (opts = {}) => {
        const s = new PostgresSink({ name: 'pg-main', connectionString: pgi.connectionString(name), schema: opts.schema ?? 'dest', ...opts });
        sinks.push(s);
        return s;
      },
      q: async (sql, params) => (await client.query(sql, params)).rows,
    });
  } finally {
    for (const s of sinks) await s[Symbol.asyncDispose]();
    await client.end();
    const admin = new pg.Client({ connectionString: pgi.connectionString() });
    await admin.connect();
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  }
}

function col(name: string, kind: ValueKind, sourceType: string, extra: Partial<Pick<Column, 'key' | 'elementKind' | 'arrayDims'>> = {}): Column {
  return create(ColumnSchema, { name, kind, sourceType, nullable: !extra.key, ...extra });
}
const keyCol = (name = 'id') => col(name, ValueKind.INT32, 'integer', { key: true });

function table(t: string, columns: Column[], opts: { schema?: string; version?: number } = {}): TableSchema {
  return create(TableSchemaSchema, { schema: opts.schema ?? 'public', table: t, version: opts.version ?? 1, columns });
}

let autoPos = 1000n;
/** A change; `key` defaults to the key columns of after (or before). Positions increase unless given. */
function ch(op: ChangeOp, schema: TableSchema, img: { after?: Value[]; before?: Value[]; key?: Value[]; commit?: bigint; index?: number }): SinkChange {
  const row = img.after ?? img.before ?? [];
  const key = img.key ?? schema.columns.flatMap((c, i) => (c.key ? [row[i] ?? null] : []));
  return {
    sourceKey: 'agent/pg',
    op,
    schema,
    key: op === 'truncate' ? [] : key,
    before: img.before ?? null,
    after: img.after ?? null,
    position: { commit: img.commit ?? (autoPos += 10n), index: img.index ?? 0 },
    commitTimeUs: 1_700_000_000_000_000n,
    txid: 7n,
  };
}

const items = (dims: number[], values: Value[], lower = dims.map(() => 1)): Value => ({ kind: 'array', dims, lower, items: values });
const arrCol = (name: string, element: ValueKind, type: string) => col(name, ValueKind.ARRAY, type, { elementKind: element, arrayDims: 1 });

/** [column, value, expected `col::text`, expected destination type] */
const TYPE_CASES: [Column, Value, string | null, string][] = [
  [col('c_int2', ValueKind.INT16, 'smallint'), -32768n, '-32768', 'smallint'],
  [col('c_int4', ValueKind.INT32, 'integer'), 2147483647n, '2147483647', 'integer'],
  [col('c_int8', ValueKind.INT64, 'bigint'), -9223372036854775808n, '-9223372036854775808', 'bigint'],
  [col('c_numeric', ValueKind.DECIMAL, 'numeric(12,2)'), { kind: 'decimal', text: '1234567890.12' }, '1234567890.12', 'numeric(12,2)'],
  [col('c_numeric_nan', ValueKind.DECIMAL, 'numeric'), { kind: 'decimal', text: 'NaN' }, 'NaN', 'numeric'],
  [col('c_float4', ValueKind.FLOAT32, 'real'), Math.fround(0.1), '0.1', 'real'],
  [col('c_float4_inf', ValueKind.FLOAT32, 'real'), Infinity, 'Infinity', 'real'],
  [col('c_float8', ValueKind.FLOAT64, 'double precision'), 0.1 + 0.2, '0.30000000000000004', 'double precision'],
  [col('c_float8_nan', ValueKind.FLOAT64, 'double precision'), NaN, 'NaN', 'double precision'],
  [col('c_float8_ninf', ValueKind.FLOAT64, 'double precision'), -Infinity, '-Infinity', 'double precision'],
  [col('c_float8_negzero', ValueKind.FLOAT64, 'double precision'), -0, '-0', 'double precision'],
  [col('c_bool', ValueKind.BOOL, 'boolean'), true, 'true', 'boolean'],
  [col('c_text', ValueKind.TEXT, 'text'), 'héllo "w" \\ ; 𝄞 \'', 'héllo "w" \\ ; 𝄞 \'', 'text'],
  [col('c_varchar', ValueKind.TEXT, 'character varying(10)'), 'abc', 'abc', 'character varying(10)'],
  [col('c_char', ValueKind.TEXT, 'character(5)'), 'ab', 'ab', 'character(5)'], // bpchar -> text drops the padding
  [col('c_bytea', ValueKind.BYTES, 'bytea'), new Uint8Array([0, 1, 0x5c, 0xff]), '\\x00015cff', 'bytea'],
  [col('c_uuid', ValueKind.UUID, 'uuid'), { kind: 'uuid', text: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'uuid'],
  [col('c_date', ValueKind.DATE, 'date'), { kind: 'date', days: 19_723 }, '2024-01-01', 'date'],
  [col('c_date_bc', ValueKind.DATE, 'date'), { kind: 'date', days: -735_160 }, '0044-03-15 BC', 'date'],
  [col('c_date_far', ValueKind.DATE, 'date'), { kind: 'date', days: 2_932_897 }, '10000-01-01', 'date'],
  [col('c_date_inf', ValueKind.DATE, 'date'), { kind: 'date', days: DATE_INFINITY }, 'infinity', 'date'],
  [col('c_date_ninf', ValueKind.DATE, 'date'), { kind: 'date', days: DATE_MINUS_INFINITY }, '-infinity', 'date'],
  [col('c_time', ValueKind.TIME, 'time without time zone'), { kind: 'time', micros: 45_296_000_007 }, '12:34:56.000007', 'time without time zone'],
  [col('c_timetz', ValueKind.TIMETZ, 'time with time zone'), { kind: 'timetz', micros: 45_296_123_456, offsetSeconds: 19_800 }, '12:34:56.123456+05:30', 'time with time zone'],
  [col('c_ts', ValueKind.TIMESTAMP, 'timestamp without time zone'), { kind: 'timestamp', micros: 1_700_000_000_123_456 }, '2023-11-14 22:13:20.123456', 'timestamp without time zone'],
  [col('c_ts_pre', ValueKind.TIMESTAMP, 'timestamp without time zone'), { kind: 'timestamp', micros: -1 }, '1969-12-31 23:59:59.999999', 'timestamp without time zone'],
  [col('c_ts_inf', ValueKind.TIMESTAMP, 'timestamp without time zone'), { kind: 'timestamp', micros: Infinity }, 'infinity', 'timestamp without time zone'],
  [col('c_tstz', ValueKind.TIMESTAMPTZ, 'timestamp with time zone'), { kind: 'timestamptz', micros: 1_700_000_000_123_456 }, '2023-11-14 22:13:20.123456+00', 'timestamp with time zone'],
  [col('c_tstz3', ValueKind.TIMESTAMPTZ, 'timestamp(3) with time zone'), { kind: 'timestamptz', micros: 1_700_000_000_123_000 }, '2023-11-14 22:13:20.123+00', 'timestamp(3) with time zone'],
  [col('c_tstz_ninf', ValueKind.TIMESTAMPTZ, 'timestamp with time zone'), { kind: 'timestamptz', micros: -Infinity }, '-infinity', 'timestamp with time zone'],
  [col('c_interval', ValueKind.INTERVAL, 'interval'), { kind: 'interval', months: 14, days: 3, micros: -1 }, '1 year 2 mons 3 days -00:00:00.000001', 'interval'],
  [col('c_interval_neg', ValueKind.INTERVAL, 'interval'), { kind: 'interval', months: -1, days: 2, micros: 3 }, '-1 mons +2 days 00:00:00.000003', 'interval'],
  [col('c_json', ValueKind.JSON, 'json'), { kind: 'json', text: '{"b": 1,  "a": [1,2]}' }, '{"b": 1,  "a": [1,2]}', 'json'],
  [col('c_jsonb', ValueKind.JSONB, 'jsonb'), { kind: 'json', text: '{"b": 1, "a": [1, "x\\"y"]}' }, '{"a": [1, "x\\"y"], "b": 1}', 'jsonb'],
  [arrCol('c_int_arr', ValueKind.INT32, 'integer[]'), items([3], [1n, null, 3n]), '{1,NULL,3}', 'integer[]'],
  [arrCol('c_text_arr', ValueKind.TEXT, 'text[]'), items([5], ['a b', null, 'q"\\', 'NULL', '']), '{"a b",NULL,"q\\"\\\\","NULL",""}', 'text[]'],
  [arrCol('c_int_2d', ValueKind.INT32, 'integer[]'), items([2, 2], [1n, 2n, 3n, null]), '{{1,2},{3,NULL}}', 'integer[]'],
  [arrCol('c_arr_lower', ValueKind.TEXT, 'text[]'), items([2], ['x', 'y'], [0]), '[0:1]={x,y}', 'text[]'],
  [arrCol('c_num_arr', ValueKind.DECIMAL, 'numeric(5,1)[]'), items([2], [{ kind: 'decimal', text: '1.5' }, { kind: 'decimal', text: '-2.0' }]), '{1.5,-2.0}', 'numeric(5,1)[]'],
  [col('c_enum', ValueKind.ENUM, 'mood'), 'happy', 'happy', 'text'],
  [arrCol('c_enum_arr', ValueKind.ENUM, 'mood[]'), items([2], ['happy', 'sad']), '{happy,sad}', 'text[]'],
  [col('c_null', ValueKind.TEXT, 'text'), null, null, 'text'],
];

test('creates the table with every type and round-trips each value exactly', async () => {
  await withDb(async (db) => {
    const sink = db.sink();
    assert.equal(await sink.open(signal), null, 'no offset before the first write');
    const schema = table('all_types', [keyCol(), ...TYPE_CASES.map(([c]) => c)]);
    await sink.write({ changes: [ch('insert', schema, { after: [1n, ...TYPE_CASES.map(([, v]) => v)] })], lastOffset: 1n }, signal);

    const types = await db.q<{ name: string; type: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = 'dest.all_types'::regclass AND attnum > 0 AND NOT attisdropped`,
    );
    const typeOf = new Map(types.map((r) => [r.name, r.type]));
    const selects = TYPE_CASES.map(([c]) => `"${c.name}"::text`).join(', ');
    const [row] = await db.q<Record<string, string | null>>(`SELECT ${selects} FROM dest.all_types WHERE id = 1`);
    for (const [c, , text, type] of TYPE_CASES) {
      assert.equal(typeOf.get(c.name), type, `type of ${c.name}`);
      assert.equal(row?.[c.name], text, `value of ${c.name}`);
    }
    assert.equal(typeOf.get('_tributary_lsn'), 'bigint');
    assert.equal(typeOf.get('_tributary_index'), 'integer');
    assert.equal(typeOf.get('_tributary_op'), 'character(1)');
    assert.equal(typeOf.get('_tributary_commit_time'), 'timestamp with time zone');
    const [meta] = await db.q(`SELECT _tributary_op AS op, _tributary_commit_time::text AS ct, _tributary_synced_at IS NOT NULL AS synced FROM dest.all_types`);
    assert.deepEqual(meta, { op: 'c', ct: '2023-11-14 22:13:20+00', synced: true });
    const [pk] = await db.q<{ def: string }>(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'dest.all_types'::regclass AND contype = 'p'`);
    assert.equal(pk?.def, 'PRIMARY KEY (id)');
  });
});

const people = table('people', [keyCol(), col('name', ValueKind.TEXT, 'text'), col('age', ValueKind.INT32, 'integer')]);
type Person = { id: number; name: string | null; age: number | null; op?: string };
async function peopleRows(db: Db, extra = ''): Promise<Person[]> {
  return db.q<Person>(`SELECT id, name, age${extra} FROM dest.people ORDER BY id`);
}

test('insert, update, delete, key change and truncate, with the offset stored alongside', async () => {
  await withDb(async (db) => {
    const sink = db.sink();
    await sink.open(signal);
    await sink.write(
      {
        changes: [
          ch('insert', people, { after: [1n, 'ann', 30n] }),
          ch('insert', people, { after: [2n, 'bob', 40n] }),
          ch('read', people, { after: [3n, 'cid', 50n] }),
        ],
        lastOffset: 10n,
      },
      signal,
    );
    assert.deepEqual(await peopleRows(db, ', _tributary_op AS op'), [
      { id: 1, name: 'ann', age: 30, op: 'c' },
      { id: 2, name: 'bob', age: 40, op: 'c' },
      { id: 3, name: 'cid', age: 50, op: 'r' },
    ]);
    await sink.write(
      {
        changes: [
          ch('update', people, { after: [2n, 'bob', 41n] }),
          ch('delete', people, { key: [3n], before: [3n, null, null] }),
          // key change: 1 -> 10, old key in the before-image
          ch('update', people, { before: [1n, null, null], after: [10n, 'ann', 31n], key: [10n] }),
          ch('insert', people, { after: [4n, 'dee', 20n] }),
          ch('update', people, { after: [4n, 'dee', 21n] }),
        ],
        lastOffset: 20n,
      },
      signal,
    );
    assert.deepEqual(await peopleRows(db, ', _tributary_op AS op'), [
      { id: 2, name: 'bob', age: 41, op: 'u' },
      { id: 4, name: 'dee', age: 21, op: 'u' },
      { id: 10, name: 'ann', age: 31, op: 'u' },
    ]);
    const [offset] = await db.q(`SELECT sink, log_offset::text AS o FROM dest._tributary_offsets`);
    assert.deepEqual(offset, { sink: 'pg-main', o: '20' });

    await sink.write({ changes: [ch('truncate', people, {}), ch('insert', people, { after: [5n, 'eve', 60n] })], lastOffset: 30n }, signal);
    assert.deepEqual(await peopleRows(db), [{ id: 5, name: 'eve', age: 60 }]);
    // A truncate naming a table this sink never created does nothing.
    await sink.write({ changes: [ch('truncate', table('nowhere', []), {})], lastOffset: 31n }, signal);
    assert.equal(await sink.open(signal), 31n);
  });
});

test('replaying a batch changes nothing, and the offset equals lastOffset', async () => {
  await withDb(async (db) => {
    const sink = db.sink();
    await sink.open(signal);
    const batch = {
      changes: [ch('insert', people, { after: [1n, 'ann', 30n] }), ch('insert', people, { after: [2n, 'bob', 40n] }), ch('delete', people, { key: [2n] })],
      lastOffset: 5n,
    };
    await sink.write(batch, signal);
    const snapshot = await db.q(`SELECT xmin::text, * FROM dest.people ORDER BY id`);
    await sink.write(batch, signal);
    assert.deepEqual(await db.q(`SELECT xmin::text, * FROM dest.people ORDER BY id`), snapshot, 'same rows, same row versions');
    assert.equal(await sink.open(signal), 5n);

    // The same changes under a newer offset get past the offset check; the position guard stops them.
    await sink.write({ ...batch, lastOffset: 6n }, signal);
    assert.deepEqual(await db.q(`SELECT xmin::text, * FROM dest.people ORDER BY id`), snapshot, 'guard leaves rows untouched');
    assert.equal(await sink.open(signal), 6n);
    // A fresh sink on the same destination resumes from the stored offset.
    assert.equal(await db.sink().open(signal), 6n);
  });
});

test('an older position never overwrites or deletes a newer row', async () => {
  await withDb(async (db) => {
    const sink = db.sink();
    await sink.open(signal);
    await sink.write(
      { changes: [ch('insert', people, { after: [1n, 'new', 2n], commit: 5000n, index: 3 }), ch('insert', people, { after: [2n, 'keep', 2n], commit: 5000n, index: 4 })], lastOffset: 1n },
      signal,
    );
    await sink.write(
      {
        changes: [
          ch('update', people, { after: [1n, 'old', 1n], commit: 5000n, index: 2 }),
          ch('read', people, { after: [1n, 'older', 0n], commit: 4000n, index: 9 }),
          ch('delete', people, { key: [2n], commit: 5000n, index: 1 }),
        ],
        lastOffset: 2n,
      },
      signal,
    );
    assert.deepEqual(await peopleRows(db), [
      { id: 1, name: 'new', age: 2 },
      { id: 2, name: 'keep', age: 2 },
    ]);
    await sink.write({ changes: [ch('update', people, { after: [1n, 'newer', 3n], commit: 5000n, index: 4 })], lastOffset: 3n }, signal);
    assert.deepEqual((await peopleRows(db))[0], { id: 1, name: 'newer', age: 3 });
  });
});

test('UNCHANGED TOAST values keep the stored value, merge within a batch and follow a key change', async () => {
  await withDb(async (db) => {
    const docs = table('docs', [keyCol(), col('title', ValueKind.TEXT, 'text'), col('body', ValueKind.TEXT, 'text'), col('meta', ValueKind.JSONB, 'jsonb')]);
    const big = Array.from({ length: 20_000 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join('').repeat(10);
    const bigJson = { kind: 'json' as const, text: JSON.stringify({ big }) };
    const sink = db.sink();
    await sink.open(signal);
    await sink.write({ changes: [ch('insert', docs, { after: [1n, 't1', big, bigJson] }), ch('insert', docs, { after: [2n, 't2', big, null] })], lastOffset: 1n }, signal);
    await sink.write(
      {
        changes: [
          ch('update', docs, { after: [1n, 't1b', UNCHANGED, UNCHANGED] }),
          // in-batch merge: the insert carries the values the update leaves out
          ch('insert', docs, { after: [3n, 't3', 'small', null] }),
          ch('update', docs, { after: [3n, 't3b', UNCHANGED, UNCHANGED] }),
          // key change 2 -> 20 with the body not sent: copied from the stored row of key 2
          ch('update', docs, { before: [2n, null, null, null], after: [20n, 't20', UNCHANGED, UNCHANGED], key: [20n] }),
          // a row the destination does not have: inserted with what was sent
          ch('update', docs, { after: [9n, 't9', UNCHANGED, null] }),
        ],
        lastOffset: 2n,
      },
      signal,
    );
    const rows = await db.q(`SELECT id, title, md5(body) AS body, meta IS NOT NULL AS has_meta, _tributary_op AS op FROM dest.docs ORDER BY id`);
    const bigMd5 = (await db.q<{ m: string }>('SELECT md5($1) AS m', [big]))[0]?.m;
    assert.deepEqual(rows, [
      { id: 1, title: 't1b', body: bigMd5, has_meta: true, op: 'u' },
      { id: 3, title: 't3b', body: (await db.q<{ m: string }>(`SELECT md5('small') AS m`))[0]?.m, has_meta: false, op: 'u' },
      { id: 9, title: 't9', body: null, has_meta: false, op: 'u' },
      { id: 20, title: 't20', body: bigMd5, has_meta: false, op: 'u' },
    ]);
    const [meta] = await db.q<{ ok: boolean }>(`SELECT meta->>'big' = $1 AS ok FROM dest.docs WHERE id = 1`, [big]);
    assert.equal(meta?.ok, true);
  });
});

test('many rows, composite keys and a small statement size', async () => {
  await withDb(async (db) => {
    const wide = table('wide', [col('a', ValueKind.INT32, 'integer', { key: true }), col('b', ValueKind.TEXT, 'text', { key: true }), col('v', ValueKind.FLOAT64, 'double precision')]);
    const sink = db.sink({ maxRowsPerStatement: 7 });
    await sink.open(signal);
    const n = 500;
    const inserts = Array.from({ length: n }, (_, i) => ch('insert', wide, { after: [BigInt(i % 50), `k${i}`, i / 3] }));
    const deletes = Array.from({ length: 100 }, (_, i) => ch('delete', wide, { key: [BigInt(i % 50), `k${i}`] }));
    const updates = Array.from({ length: 50 }, (_, i) => ch('update', wide, { after: [BigInt((i + 100) % 50), `k${i + 100}`, UNCHANGED] }));
    await sink.write({ changes: [...inserts, ...deletes, ...updates], lastOffset: 1n }, signal);
    const [agg] = await db.q(`SELECT count(*)::int AS n, count(*) FILTER (WHERE _tributary_op = 'u')::int AS u FROM dest.wide`);
    assert.deepEqual(agg, { n: 400, u: 50 });
    const [v] = await db.q(`SELECT v, _tributary_op AS op FROM dest.wide WHERE a = 20 AND b = 'k120'`);
    assert.deepEqual(v, { v: 40, op: 'u' }, 'UNCHANGED value taken from the insert earlier in the batch');
  });
});

const isHubError = (kind: HubError['kind'], pattern?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof HubError, `expected a HubError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  if (pattern) assert.match(err.message, pattern);
  return true;
};

test('hostile table, column and schema names land as quoted identifiers', async () => {
  await withDb(async (db) => {
    await db.q('CREATE TABLE x (id int); INSERT INTO x VALUES (1)');
    const hostile = '"; DROP TABLE x; --';
    const evil = table(hostile, [keyCol('id"); DROP TABLE x; --'), col("it's; DELETE FROM x", ValueKind.TEXT, 'text')]);
    const other = table("t'; TRUNCATE x; --", [keyCol()], { schema: 'we"ird' });
    const sink = db.sink({ schema: 'dest"; DROP TABLE x; --' });
    await sink.open(signal);
    await sink.write({ changes: [ch('insert', evil, { after: [1n, 'v'] }), ch('insert', other, { after: [2n] }), ch('delete', evil, { key: [1n] }), ch('insert', evil, { after: [3n, "'; --"] })], lastOffset: 1n }, signal);
    assert.deepEqual(await db.q('SELECT id FROM x'), [{ id: 1 }], 'x untouched');
    const rels = await db.q<{ nsp: string; rel: string }>(
      `SELECT n.nspname AS nsp, c.relname AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname LIKE 'dest%' ORDER BY 2`,
    );
    assert.deepEqual(rels, [
      { nsp: 'dest"; DROP TABLE x; --', rel: '"; DROP TABLE x; --' },
      { nsp: 'dest"; DROP TABLE x; --', rel: '_tributary_columns' },
      { nsp: 'dest"; DROP TABLE x; --', rel: '_tributary_offsets' },
      { nsp: 'dest"; DROP TABLE x; --', rel: `we"ird_t'; TRUNCATE x; --` },
    ]);
    const rows = await db.q(`SELECT * FROM "dest""; DROP TABLE x; --"."""; DROP TABLE x; --"`);
    assert.deepEqual(
      rows.map((r) => [r['id"); DROP TABLE x; --'], r["it's; DELETE FROM x"]]),
      [[3, "'; --"]],
    );
  });
});

test('bad source types, keyless tables, long names and name clashes are refused as schema errors', async () => {
  await withDb(async (db) => {
    await db.q('CREATE TABLE x (id int)');
    const sink = db.sink();
    await sink.open(signal);
    const write = (schema: TableSchema, after: Value[]) => sink.write({ changes: [ch('insert', schema, { after })], lastOffset: 1n }, signal);
    for (const bad of ['integer); DROP TABLE x; --', 'text references x', 'int check (true)', "text default 'a'", 'integer[]; select 1', 'text collate "C"', '']) {
      await assert.rejects(write(table('t_bad', [keyCol(), col('c', ValueKind.TEXT, bad)]), [1n, 'a']), isHubError('schema', /source type/), bad);
    }
    await assert.rejects(write(table('t_nosuch', [keyCol(), col('c', ValueKind.TEXT, 'nosuchtype')]), [1n, 'a']), isHubError('schema', /SQLSTATE 42704.*t_nosuch|t_nosuch.*SQLSTATE 42704/));
    await assert.rejects(write(table('nokey', [col('c', ValueKind.TEXT, 'text')]), ['a']), isHubError('schema', /primary key.*REPLICA IDENTITY/));
    await assert.rejects(write(table('t'.repeat(64), [keyCol()]), [1n]), isHubError('schema', /64 bytes/));
    await assert.rejects(write(table('tbl', [keyCol()], { schema: 's'.repeat(60) }), [1n]), isHubError('schema', /63/));
    await assert.rejects(write(table('meta', [keyCol(), col('_tributary_lsn', ValueKind.INT64, 'bigint')]), [1n, 1n]), isHubError('schema', /metadata/));

    await write(table('a_b', [keyCol()]), [1n]);
    await assert.rejects(
      sink.write({ changes: [ch('insert', table('b', [keyCol()], { schema: 'a' }), { after: [1n] })], lastOffset: 2n }, signal),
      isHubError('schema', /a_b/),
    );
    // Across restarts too: a new sink instance sees the ownership comment.
    await assert.rejects(
      db.sink().write({ changes: [ch('insert', table('b', [keyCol()], { schema: 'a' }), { after: [1n] })], lastOffset: 2n }, signal),
      isHubError('schema', /already holds/),
    );
    assert.equal((await db.q('SELECT count(*)::int AS n FROM x'))[0]?.['n'], 0);
    assert.equal(await sink.open(signal), 1n, 'failed batches moved nothing');
  });
});

test('a failing statement rolls back the whole batch, offset included', async () => {
  await withDb(async (db) => {
    const prices = table('prices', [keyCol(), col('p', ValueKind.DECIMAL, 'numeric(4,2)')]);
    const sink = db.sink();
    await sink.open(signal);
    const bad = sink.write(
      { changes: [ch('insert', people, { after: [1n, 'ann', 1n] }), ch('insert', prices, { after: [1n, { kind: 'decimal', text: '12345.6' }] })], lastOffset: 9n },
      signal,
    );
    await assert.rejects(bad, isHubError('sink-rejected', /SQLSTATE 22003.*|dest\.prices/));
    assert.deepEqual(await db.q(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'dest' AND tablename IN ('people', 'prices')`), [{ n: 0 }]);
    assert.equal(await sink.open(signal), null);
    // The sink recovers: the same tables are created on the next good batch.
    await sink.write({ changes: [ch('insert', people, { after: [1n, 'ann', 1n] })], lastOffset: 9n }, signal);
    assert.equal(await sink.open(signal), 9n);
  });
});

test('schema versions add new columns', async () => {
  await withDb(async (db) => {
    const v1 = table('evolve', [keyCol(), col('a', ValueKind.TEXT, 'text')]);
    const v2 = table('evolve', [keyCol(), col('a', ValueKind.TEXT, 'text'), col('b', ValueKind.INT64, 'bigint')], { version: 2 });
    const sink = db.sink();
    await sink.open(signal);
    await sink.write({ changes: [ch('insert', v1, { after: [1n, 'x'] }), ch('insert', v2, { after: [2n, 'y', 7n] }), ch('update', v1, { after: [3n, 'z'] })], lastOffset: 1n }, signal);
    assert.deepEqual(await db.q('SELECT id, a, b FROM dest.evolve ORDER BY id'), [
      { id: 1, a: 'x', b: null },
      { id: 2, a: 'y', b: '7' },
      { id: 3, a: 'z', b: null },
    ]);
  });
});

test('a destination that is down is reported as sink-unavailable', async () => {
  const down = await startPostgres();
  const sink = new PostgresSink({ name: 'pg-down', connectionString: down.connectionString(), schema: 'dest' });
  try {
    await sink.open(signal);
    await down.stop();
    await assert.rejects(sink.write({ changes: [ch('insert', people, { after: [1n, 'a', 1n] })], lastOffset: 1n }, signal), isHubError('sink-unavailable', /pg-down/));
    await assert.rejects(sink.open(signal), isHubError('sink-unavailable'));
  } finally {
    await sink[Symbol.asyncDispose]();
    await down.stop();
  }
});

test('an aborted write rolls back and rejects with the abort reason', async () => {
  await withDb(async (db) => {
    const sink = db.sink();
    await sink.open(signal);
    const ac = new AbortController();
    ac.abort(new Error('shutting down'));
    await assert.rejects(sink.write({ changes: [ch('insert', people, { after: [1n, 'a', 1n] })], lastOffset: 1n }, ac.signal), /shutting down/);
    assert.equal(await sink.open(signal), null);
  });
});
