/**
 * Schema evolution in each warehouse sink, driven directly (no agent): one
 * batch mixing an old and a new table version (a dropped column, a widened
 * and an incompatible type, a new column) under `dropColumns`; the whole
 * history replayed without the ledger changes nothing and never brings a
 * dropped column back; a primary-key change. PostgreSQL (private cluster),
 * DuckDB (a file) and Snowflake (the emulator) see the same batches.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { ValueKind } from '../../proto/gen/tributary/v1/change_pb.js';
import { parseHubConfig } from '../../hub/config.js';
import { DuckDbSink } from '../../hub/sinks/duckdb/sink.js';
import { PostgresSink } from '../../hub/sinks/postgres/sink.js';
import type { Sink, SinkBatch } from '../../hub/sinks/sink.js';
import type { SnowflakeSinkConfig } from '../../hub/sinks/snowflake/config.js';
import { SnowflakeSink } from '../../hub/sinks/snowflake/sink.js';
import { tempDir } from '../support/pipeline.js';
import { startPostgres, type PgInstance } from '../support/postgres.js';
import { startSnowflakeEmulator, type SnowflakeEmulator } from '../support/snowflake-emulator/server.js';
import { ch, col, keyCol, table } from './changes.js';

const signal = new AbortController().signal;
const dir = tempDir('evolve-sinks');
let pgi: PgInstance;
let emu: SnowflakeEmulator;
let client: pg.Client;

before(async () => {
  pgi = await startPostgres();
  await pgi.createDatabase('dst');
  client = new pg.Client({ connectionString: pgi.connectionString('dst') });
  await client.connect();
  emu = await startSnowflakeEmulator({ dir: join(dir, 'snow'), user: 'loader', password: 'emulator-password' });
});
after(async () => {
  await client?.end();
  await pgi?.stop();
  await emu?.close();
});

const v1 = table('t', [keyCol(), col('qty', ValueKind.INT32, 'integer'), col('code', ValueKind.INT32, 'integer'), col('old', ValueKind.TEXT, 'text')], { version: 1 });
const v2 = table('t', [keyCol(), col('qty', ValueKind.INT64, 'bigint'), col('code', ValueKind.TEXT, 'text'), col('added', ValueKind.TEXT, 'text')], { version: 2 });
/** The key moves from id to qty. */
const v3 = table('t', [col('id', ValueKind.INT32, 'integer'), col('qty', ValueKind.INT64, 'bigint', { key: true }), col('code', ValueKind.TEXT, 'text'), col('added', ValueKind.TEXT, 'text')], { version: 3 });

function historyBatches(): SinkBatch[] {
  return [
    { lastOffset: 1n, changes: [ch('insert', v1, { after: [1n, 10n, 1n, 'a'] }), ch('insert', v1, { after: [2n, 20n, 2n, 'b'] }), ch('insert', v1, { after: [3n, 30n, 3n, 'c'] })] },
    // Old and new version in one batch: v1 rows are applied after v2's DDL in DuckDB and Snowflake.
    { lastOffset: 2n, changes: [ch('update', v1, { after: [1n, 11n, 1n, 'a2'] }), ch('insert', v2, { after: [4n, 5_000_000_000n, 'x4', 'new'] }), ch('update', v2, { after: [2n, 21n, 'x2', 'n2'] })] },
  ];
}

/** id, qty, code (original), code (new column), added — as text, by id. */
type Read = () => Promise<{ columns: string[]; rows: (string | null)[][] }>;

async function exercise(name: string, sink: Sink, read: Read, resetOffsets: () => Promise<void>, expectCode: string): Promise<void> {
  await sink.open(signal);
  for (const b of historyBatches()) await sink.write(b, signal);
  const once = await read();
  assert.ok(!once.columns.includes('old') && !once.columns.includes('OLD'), `${name}: dropColumns dropped "old" (${once.columns.join(', ')})`);
  assert.ok(once.columns.some((c) => c.toLowerCase() === expectCode.toLowerCase()), `${name}: the incompatible change landed in ${expectCode} (${once.columns.join(', ')})`);
  assert.deepEqual(once.rows, [
    ['1', '11', '1', null, null],
    ['2', '21', null, 'x2', 'n2'],
    ['3', '30', '3', null, null],
    ['4', '5000000000', null, 'x4', 'new'],
  ], `${name}: rows after the mixed batch`);
  for (let i = 0; i < 2; i++) {
    await resetOffsets();
    for (const b of historyBatches()) await sink.write(b, signal);
    assert.deepEqual(await read(), once, `${name}: replay ${i + 1} changes nothing and never brings "old" back`);
  }
  await sink.write({ lastOffset: 3n, changes: [ch('insert', v3, { after: [5n, 50n, 'x5', 'k'] }), ch('update', v3, { after: [1n, 11n, 'y1', 'k1'] })] }, signal);
  const keyed = await read();
  assert.deepEqual(keyed.rows.find((r) => r[0] === '1'), ['1', '11', null, 'y1', 'k1'], `${name}: merged by the new key`);
  assert.equal(keyed.rows.length, 5);
}

const ordered = (rows: unknown[][]) => rows.map((r) => r.map((v) => (v === null || v === undefined ? null : String(v)))).sort((a, b) => Number(a[0]) - Number(b[0]));

test('PostgreSQL sink: drop, widen, divert, replay, key change', async () => {
  const sink = new PostgresSink({ name: 'pg', connectionString: pgi.connectionString('dst'), schema: 'evo', dropColumns: true });
  try {
    const read: Read = async () => {
      const cols = (await client.query<{ c: string }>(`SELECT attname::text AS c FROM pg_attribute WHERE attrelid = 'evo.t'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`)).rows.map((r) => r.c);
      const r = await client.query({ text: 'SELECT id, qty, code, code__text, added FROM evo.t', rowMode: 'array' });
      return { columns: cols, rows: ordered(r.rows as unknown[][]) };
    };
    await exercise('PostgreSQL', sink, read, async () => void (await client.query('DELETE FROM evo._tributary_offsets')), 'code__text');
    const pk = await client.query<{ def: string }>(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'evo.t'::regclass AND contype = 'p'`);
    assert.equal(pk.rows[0]?.def, 'PRIMARY KEY (qty)');
    const qty = await client.query<{ t: string }>(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'evo.t'::regclass AND attname = 'qty'`);
    assert.equal(qty.rows[0]?.t, 'bigint', 'widened in place');
  } finally {
    await sink[Symbol.asyncDispose]();
  }
});

test('DuckDB sink: drop, widen, divert, replay, key change', async () => {
  const path = join(dir, 'warehouse.duckdb');
  const sink = new DuckDbSink({ name: 'duck', path, schema: 'evo', dropColumns: true });
  const reader = await (await DuckDBInstance.fromCache(path)).connect();
  try {
    const read: Read = async () => {
      const cols = (await reader.runAndReadAll(`SELECT column_name FROM duckdb_columns() WHERE schema_name = 'evo' AND table_name = 't' ORDER BY column_index`)).getRows().map((r) => String(r[0]));
      const rows = (await reader.runAndReadAll('SELECT id, qty, code, code__varchar, added FROM evo.t')).getRowsJson() as unknown[][];
      return { columns: cols, rows: ordered(rows) };
    };
    await exercise('DuckDB', sink, read, async () => void (await reader.run('DELETE FROM evo._tributary_offsets')), 'code__varchar');
    const qty = (await reader.runAndReadAll(`SELECT data_type FROM duckdb_columns() WHERE schema_name = 'evo' AND table_name = 't' AND column_name = 'qty'`)).getRows();
    assert.equal(String(qty[0]?.[0]), 'BIGINT', 'widened in place');
  } finally {
    await sink[Symbol.asyncDispose]();
    reader.closeSync();
  }
});

test('Snowflake sink (emulated): drop, widen, divert, replay, key change', async () => {
  const config = parseHubConfig(
    {
      log: { path: '/unused' },
      sinks: [{ kind: 'snowflake', name: 'snow', account: 'emulated', user: 'loader', auth: { kind: 'password', password: 'emulator-password' }, warehouse: 'WH', database: 'DB', schema: 'EVO', accessUrl: emu.accessUrl, dropColumns: true, requestTimeoutMs: 5000 }],
    },
    {},
  ).sinks[0] as SnowflakeSinkConfig;
  const sink = new SnowflakeSink(config);
  try {
    const read: Read = async () => {
      const cols = (await emu.query(`SELECT column_name FROM duckdb_columns() WHERE schema_name = 'EVO' AND table_name = 'T' ORDER BY column_index`)).map((r) => String(r[0]));
      const rows = await emu.query('SELECT "ID", "QTY", "CODE", "CODE__VARCHAR", "ADDED" FROM "EVO"."T"');
      return { columns: cols, rows: ordered(rows) };
    };
    await exercise('Snowflake', sink, read, async () => void (await emu.query('DELETE FROM "EVO"."_TRIBUTARY_OFFSETS"')), 'CODE__VARCHAR');
    const qty = await emu.query(`SELECT data_type FROM duckdb_columns() WHERE schema_name = 'EVO' AND table_name = 'T' AND column_name = 'QTY'`);
    assert.equal(String(qty[0]?.[0]), 'DECIMAL(19,0)', 'NUMBER(10,0) widened to NUMBER(19,0) in place');
  } finally {
    await sink[Symbol.asyncDispose]();
  }
});
