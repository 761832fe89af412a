/**
 * DuckDbSink against a real DuckDB file: the type corpus value by value
 * (documented mapping), replaying the whole history twice changes nothing,
 * the position guard, soft deletes, TOAST values, hostile identifiers.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ValueKind, type Column } from '../../proto/gen/tributary/v1/change_pb.js';
import { DATE_INFINITY, DATE_MINUS_INFINITY, UNCHANGED, type Value } from '../../proto/tributary/v1/row-codec.js';
import { HubError } from '../../hub/errors.js';
import { DuckDbSink } from '../../hub/sinks/duckdb/sink.js';
import type { DeletePolicy } from '../../hub/sinks/merge/metadata.js';
import { tempDir } from '../support/pipeline.js';
import { arrCol, ch, col, history, items, keyCol, people, table } from './changes.js';

const signal = new AbortController().signal;
const root = tempDir('duckdb-sink');
let fileCount = 0;
after(() => rmSync(root, { recursive: true, force: true }));

interface Db {
  sink(opts?: { schema?: string; deletePolicy?: DeletePolicy; name?: string }): DuckDbSink;
  rows(sql: string): Promise<unknown[][]>;
}

async function withDb(fn: (db: Db) => Promise<void>): Promise<void> {
  const path = join(root, `t${++fileCount}.duckdb`);
  const sinks: DuckDbSink[] = [];
  const reader: DuckDBConnection = await (await DuckDBInstance.fromCache(path)).connect();
  try {
    await fn({
      sink: (o = {}) => {
        const s = new DuckDbSink({ name: o.name ?? 'duck', path, schema: o.schema ?? 'dest', ...(o.deletePolicy ? { deletePolicy: o.deletePolicy } : {}) });
        sinks.push(s);
        return s;
      },
      rows: async (sql) => (await reader.runAndReadAll(sql)).getRowsJson() as unknown[][],
    });
  } finally {
    for (const s of sinks) await s[Symbol.asyncDispose]();
    reader.closeSync();
  }
}

/** [column, value, expected CAST(col AS VARCHAR), expected DuckDB type] */
const TYPE_CASES: [Column, Value, string | null, string][] = [
  [col('c_int2', ValueKind.INT16, 'smallint'), -32768n, '-32768', 'SMALLINT'],
  [col('c_int4', ValueKind.INT32, 'integer'), 2147483647n, '2147483647', 'INTEGER'],
  [col('c_int8', ValueKind.INT64, 'bigint'), -9223372036854775808n, '-9223372036854775808', 'BIGINT'],
  [col('c_numeric', ValueKind.DECIMAL, 'numeric(12,2)'), { kind: 'decimal', text: '1234567890.12' }, '1234567890.12', 'DECIMAL(12,2)'],
  [col('c_numeric_neg', ValueKind.DECIMAL, 'numeric(38,10)'), { kind: 'decimal', text: '-0.0000000001' }, '-0.0000000001', 'DECIMAL(38,10)'],
  [col('c_numeric_free', ValueKind.DECIMAL, 'numeric'), { kind: 'decimal', text: '12345678901234567890123456789012345678901234.5' }, '12345678901234567890123456789012345678901234.5', 'VARCHAR'],
  [col('c_numeric_nan', ValueKind.DECIMAL, 'numeric'), { kind: 'decimal', text: 'NaN' }, 'NaN', 'VARCHAR'],
  [col('c_float4', ValueKind.FLOAT32, 'real'), Math.fround(0.1), '0.1', 'FLOAT'],
  [col('c_float4_inf', ValueKind.FLOAT32, 'real'), Infinity, 'inf', 'FLOAT'],
  [col('c_float8', ValueKind.FLOAT64, 'double precision'), 0.1 + 0.2, '0.30000000000000004', 'DOUBLE'],
  [col('c_float8_nan', ValueKind.FLOAT64, 'double precision'), NaN, 'nan', 'DOUBLE'],
  [col('c_float8_ninf', ValueKind.FLOAT64, 'double precision'), -Infinity, '-inf', 'DOUBLE'],
  [col('c_float8_negzero', ValueKind.FLOAT64, 'double precision'), -0, '-0.0', 'DOUBLE'],
  [col('c_bool', ValueKind.BOOL, 'boolean'), true, 'true', 'BOOLEAN'],
  [col('c_text', ValueKind.TEXT, 'text'), 'héllo "w" \\ ; 𝄞 \'', 'héllo "w" \\ ; 𝄞 \'', 'VARCHAR'],
  [col('c_varchar', ValueKind.TEXT, 'character varying(10)'), 'abc', 'abc', 'VARCHAR'],
  [col('c_bytea', ValueKind.BYTES, 'bytea'), new Uint8Array([0, 1, 0x5c, 0xff]), '\\x00\\x01\\x5C\\xFF', 'BLOB'],
  [col('c_uuid', ValueKind.UUID, 'uuid'), { kind: 'uuid', text: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'UUID'],
  [col('c_date', ValueKind.DATE, 'date'), { kind: 'date', days: 19_723 }, '2024-01-01', 'DATE'],
  [col('c_date_bc', ValueKind.DATE, 'date'), { kind: 'date', days: -735_160 }, '0044-03-15 (BC)', 'DATE'],
  [col('c_date_far', ValueKind.DATE, 'date'), { kind: 'date', days: 2_932_897 }, '10000-01-01', 'DATE'],
  [col('c_date_inf', ValueKind.DATE, 'date'), { kind: 'date', days: DATE_INFINITY }, 'infinity', 'DATE'],
  [col('c_date_ninf', ValueKind.DATE, 'date'), { kind: 'date', days: DATE_MINUS_INFINITY }, '-infinity', 'DATE'],
  [col('c_time', ValueKind.TIME, 'time without time zone'), { kind: 'time', micros: 45_296_000_007 }, '12:34:56.000007', 'TIME'],
  [col('c_timetz', ValueKind.TIMETZ, 'time with time zone'), { kind: 'timetz', micros: 45_296_123_456, offsetSeconds: 19_800 }, '12:34:56.123456+05:30', 'TIME WITH TIME ZONE'],
  [col('c_ts', ValueKind.TIMESTAMP, 'timestamp without time zone'), { kind: 'timestamp', micros: 1_700_000_000_123_456 }, '2023-11-14 22:13:20.123456', 'TIMESTAMP'],
  [col('c_ts_pre', ValueKind.TIMESTAMP, 'timestamp without time zone'), { kind: 'timestamp', micros: -1 }, '1969-12-31 23:59:59.999999', 'TIMESTAMP'],
  [col('c_ts_inf', ValueKind.TIMESTAMP, 'timestamp without time zone'), { kind: 'timestamp', micros: Infinity }, 'infinity', 'TIMESTAMP'],
  [col('c_tstz', ValueKind.TIMESTAMPTZ, 'timestamp with time zone'), { kind: 'timestamptz', micros: 1_700_000_000_123_456 }, '2023-11-14 22:13:20.123456+00', 'TIMESTAMP WITH TIME ZONE'],
  [col('c_tstz_ninf', ValueKind.TIMESTAMPTZ, 'timestamp with time zone'), { kind: 'timestamptz', micros: -Infinity }, '-infinity', 'TIMESTAMP WITH TIME ZONE'],
  [col('c_interval', ValueKind.INTERVAL, 'interval'), { kind: 'interval', months: 14, days: 3, micros: -1 }, '1 year 2 months 3 days -00:00:00.000001', 'INTERVAL'],
  [col('c_json', ValueKind.JSON, 'json'), { kind: 'json', text: '{"b": 1,  "a": [1,2]}' }, '{"b": 1,  "a": [1,2]}', 'JSON'],
  [col('c_jsonb', ValueKind.JSONB, 'jsonb'), { kind: 'json', text: '{"a": [1, "x\\"y"], "b": 1}' }, '{"a": [1, "x\\"y"], "b": 1}', 'JSON'],
  [arrCol('c_int_arr', ValueKind.INT32, 'integer[]'), items([3], [1n, null, 3n]), '[1, NULL, 3]', 'INTEGER[]'],
  [arrCol('c_text_arr', ValueKind.TEXT, 'text[]'), items([4], ['a b', null, 'q"\\', '']), `[a b, NULL, 'q"\\\\', '']`, 'VARCHAR[]'],
  [arrCol('c_int_2d', ValueKind.INT32, 'integer[][]', 2), items([2, 2], [1n, 2n, 3n, null]), '[[1, 2], [3, NULL]]', 'INTEGER[][]'],
  [arrCol('c_arr_lower', ValueKind.TEXT, 'text[]'), items([2], ['x', 'y'], [0]), '[x, y]', 'VARCHAR[]'],
  [arrCol('c_num_arr', ValueKind.DECIMAL, 'numeric(5,1)[]'), items([2], [{ kind: 'decimal', text: '1.5' }, { kind: 'decimal', text: '-2.0' }]), '[1.5, -2.0]', 'DECIMAL(5,1)[]'],
  [arrCol('c_empty_arr', ValueKind.INT32, 'integer[]'), items([0], []), '[]', 'INTEGER[]'],
  [col('c_enum', ValueKind.ENUM, 'mood'), 'happy', 'happy', 'VARCHAR'],
  [arrCol('c_enum_arr', ValueKind.ENUM, 'mood[]'), items([2], ['happy', 'sad']), '[happy, sad]', 'VARCHAR[]'],
  [col('c_null', ValueKind.TEXT, 'text'), null, null, 'VARCHAR'],
];

test('creates the table with the documented types and round-trips each value', async () => {
  await withDb(async (db) => {
    const sink = db.sink();
    assert.equal(await sink.open(signal), null);
    const schema = table('all_types', [keyCol(), ...TYPE_CASES.map(([c]) => c)]);
    await sink.write({ changes: [ch('insert', schema, { after: [1n, ...TYPE_CASES.map(([, v]) => v)] })], lastOffset: 1n }, signal);
    const types = new Map((await db.rows(`SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'all_types'`)).map((r) => [r[0], r[1]]));
    const [row] = await db.rows(`SELECT ${TYPE_CASES.map(([c]) => `CAST("${c.name}" AS VARCHAR)`).join(', ')} FROM dest.all_types`);
    TYPE_CASES.forEach(([c, , text, type], i) => {
      assert.equal(types.get(c.name), type, `type of ${c.name}`);
      assert.equal(row?.[i], text, `value of ${c.name}`);
    });
    assert.equal(await sink.open(signal), 1n, 'the offset is stored with the batch');
  });
});

test('values DuckDB cannot hold are refused by name, and the batch rolls back', async () => {
  await withDb(async (db) => {
    const sink = db.sink();
    await sink.open(signal);
    const t = table('odd', [keyCol(), col('n', ValueKind.DECIMAL, 'numeric(5,2)')]);
    await assert.rejects(
      sink.write({ changes: [ch('insert', t, { after: [1n, { kind: 'decimal', text: 'NaN' }] })], lastOffset: 1n }, signal),
      (e: unknown) => e instanceof HubError && e.kind === 'sink-rejected' && /column "n"/.test(e.message),
    );
    const far = table('far', [keyCol(), col('ts', ValueKind.TIMESTAMP, 'timestamp')]);
    await assert.rejects(sink.write({ changes: [ch('insert', far, { after: [1n, { kind: 'timestamp', micros: 9_224_286_307_199_999_999n }] })], lastOffset: 1n }, signal), /outside DuckDB's timestamp range/);
    assert.equal(await sink.open(signal), null, 'nothing committed');
  });
});

async function peopleRows(db: Db, extra = ''): Promise<unknown[][]> {
  return db.rows(`SELECT id, name, age${extra} FROM dest.people ORDER BY id`);
}

test('replaying the whole history twice leaves the destination unchanged', async () => {
  await withDb(async (db) => {
    const sink = db.sink();
    await sink.open(signal);
    const log = history();
    for (const b of log) await sink.write(b, signal);
    const once = await peopleRows(db, ', _tributary_lsn, _tributary_op');
    assert.deepEqual(once.map((r) => r.slice(0, 3)), [[6, 'fay', 71]]);
    // Without the offset ledger, only the position guard protects the rows.
    for (let i = 0; i < 2; i++) {
      await db.rows(`DELETE FROM dest._tributary_offsets`);
      for (const b of log) await sink.write(b, signal);
    }
    assert.deepEqual(await peopleRows(db, ', _tributary_lsn, _tributary_op'), once);
  });
});

test('an older position never overwrites a newer row; soft deletes keep tombstones', async () => {
  await withDb(async (db) => {
    const sink = db.sink({ deletePolicy: 'soft' });
    await sink.open(signal);
    await sink.write({ changes: [ch('insert', people, { after: [1n, 'new', 2n], commit: 500n })], lastOffset: 1n }, signal);
    await sink.write({ changes: [ch('update', people, { after: [1n, 'old', 1n], commit: 400n })], lastOffset: 2n }, signal);
    assert.deepEqual(await peopleRows(db), [[1, 'new', 2]]);
    await sink.write({ changes: [ch('delete', people, { key: [1n], commit: 600n }), ch('delete', people, { key: [9n], commit: 600n, index: 1 })], lastOffset: 3n }, signal);
    assert.deepEqual(await peopleRows(db, ', _tributary_deleted, _tributary_op'), [[1, 'new', 2, true, 'd'], [9, null, null, true, 'd']]);
    // A replayed insert older than the tombstone stays deleted.
    await sink.write({ changes: [ch('insert', people, { after: [9n, 'zombie', 1n], commit: 300n })], lastOffset: 4n }, signal);
    assert.deepEqual(await peopleRows(db, ', _tributary_deleted'), [[1, 'new', 2, true], [9, null, null, true]]);
    await sink.write({ changes: [ch('insert', people, { after: [1n, 'back', 3n], commit: 700n }), ch('truncate', people, { commit: 800n })], lastOffset: 5n }, signal);
    assert.deepEqual(await peopleRows(db, ', _tributary_deleted, _tributary_op'), [[1, 'back', 3, true, 't'], [9, null, null, true, 't']]);
  });
});

test('UNCHANGED TOAST values keep the stored value and merge within a batch', async () => {
  await withDb(async (db) => {
    const t = table('docs', [keyCol(), col('body', ValueKind.TEXT, 'text'), col('n', ValueKind.INT32, 'integer')]);
    const sink = db.sink();
    await sink.open(signal);
    await sink.write({ changes: [ch('insert', t, { after: [1n, 'big body', 1n] }), ch('insert', t, { after: [2n, 'other', 1n] })], lastOffset: 1n }, signal);
    await sink.write({ changes: [ch('update', t, { after: [1n, UNCHANGED, 2n] }), ch('update', t, { after: [2n, 'changed', 2n] }), ch('update', t, { after: [2n, UNCHANGED, 3n] })], lastOffset: 2n }, signal);
    assert.deepEqual(await db.rows('SELECT id, body, n FROM dest.docs ORDER BY id'), [[1, 'big body', 2], [2, 'changed', 3]]);
  });
});

test('hostile identifiers land quoted; case-only clashes and over-long names are refused', async () => {
  await withDb(async (db) => {
    const sink = db.sink({ schema: 'dest "x"; DROP' });
    await sink.open(signal);
    const names = ['select', 'a "quoted" name', 'with space', 'ünïcødé 🦀', "semi'; DROP TABLE x; --", 'x'.repeat(255)];
    const t = table('Order "Table"; --', [keyCol('from'), ...names.map((n) => col(n, ValueKind.TEXT, 'text'))], { schema: 'weird schema' });
    await sink.write({ changes: [ch('insert', t, { after: [1n, ...names.map((n) => `v:${n.slice(0, 5)}`)] })], lastOffset: 1n }, signal);
    const cols = await db.rows(`SELECT column_name FROM duckdb_columns() WHERE schema_name = 'dest "x"; DROP' AND table_name = 'weird schema_Order "Table"; --' ORDER BY column_index`);
    assert.deepEqual(cols.map((r) => r[0]).slice(0, names.length + 1), ['from', ...names]);
    const refused = async (columns: Column[], pattern: RegExp, name = 'ok') =>
      assert.rejects(sink.write({ changes: [ch('insert', table(name, [keyCol(), ...columns]), { after: [1n, ...columns.map(() => 'v')] })], lastOffset: 2n }, signal), (e: unknown) => e instanceof HubError && e.kind === 'schema' && pattern.test(e.message));
    await refused([col('Name', ValueKind.TEXT, 'text'), col('NAME', ValueKind.TEXT, 'text')], /differ only in case/);
    await refused([col('y'.repeat(256), ValueKind.TEXT, 'text')], /longer than 255/);
    await refused([col('_tributary_lsn', ValueKind.TEXT, 'text')], /reserved prefix/);
    await sink.write({ changes: [ch('insert', table('Case', [keyCol()]), { after: [1n] })], lastOffset: 3n }, signal);
    await assert.rejects(sink.write({ changes: [ch('insert', table('CASE', [keyCol()]), { after: [1n] })], lastOffset: 4n }, signal), /both map to destination table/);
    // A fresh sink (a restart) finds the owner in the table comment.
    const again = db.sink({ schema: 'dest "x"; DROP', name: 'duck2' });
    await again.open(signal);
    await assert.rejects(again.write({ changes: [ch('insert', table('case', [keyCol()]), { after: [1n] })], lastOffset: 4n }, signal), /already holds another source table/);
  });
});
