/**
 * Snapshot rows (op READ) in every table sink: applied as upserts guarded by
 * source position, like inserts. A READ older than the stored row (a chunk
 * row the stream has since changed, replayed) never overwrites it; a newer
 * one does; with soft deletes, an older READ never revives a tombstone.
 * PostgreSQL (real server), DuckDB (embedded), Snowflake (the local emulator).
 */
import { DuckDBInstance } from '@duckdb/node-api';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { parseHubConfig } from '../../hub/config.js';
import { DuckDbSink } from '../../hub/sinks/duckdb/sink.js';
import type { DeletePolicy } from '../../hub/sinks/merge/metadata.js';
import { PostgresSink } from '../../hub/sinks/postgres/sink.js';
import type { SnowflakeSinkConfig } from '../../hub/sinks/snowflake/config.js';
import { SnowflakeSink } from '../../hub/sinks/snowflake/sink.js';
import type { Sink } from '../../hub/sinks/sink.js';
import { startSnowflakeEmulator, type SnowflakeEmulator } from '../support/snowflake-emulator/server.js';
import { startPostgres, type PgInstance } from '../support/postgres.js';
import { tempDir } from '../support/pipeline.js';
import { ch, people } from './changes.js';

const signal = new AbortController().signal;
const dir = tempDir('snapshot-reads');
let pgi: PgInstance;
let emu: SnowflakeEmulator;

before(async () => {
  pgi = await startPostgres();
  await pgi.createDatabase('dst');
  emu = await startSnowflakeEmulator({ dir: join(dir, 'snow'), user: 'loader', password: 'emulator-password' });
});
after(async () => {
  await emu?.close();
  await pgi?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Rows = () => Promise<unknown[][]>;
interface Target {
  sink: Sink & AsyncDisposable;
  rows: Rows;
}

async function postgres(schema: string, deletePolicy: DeletePolicy): Promise<Target> {
  const sink = new PostgresSink({ name: 'pg', connectionString: pgi.connectionString('dst'), schema, deletePolicy });
  return {
    sink,
    rows: async () => {
      const c = new pg.Client({ connectionString: pgi.connectionString('dst') });
      await c.connect();
      try {
        const live = deletePolicy === 'soft' ? ' WHERE NOT _tributary_deleted' : '';
        return (await c.query({ text: `SELECT id, name FROM ${schema}.people${live} ORDER BY id`, rowMode: 'array' })).rows as unknown[][];
      } finally {
        await c.end();
      }
    },
  };
}

async function duckdb(schema: string, deletePolicy: DeletePolicy): Promise<Target> {
  // A file named like the schema would make DuckDB's catalog and schema names ambiguous.
  const path = join(dir, `file-${schema}.duckdb`);
  const sink = new DuckDbSink({ name: 'duck', path, schema, deletePolicy });
  return {
    sink,
    rows: async () => {
      const c = await (await DuckDBInstance.fromCache(path)).connect();
      try {
        const live = deletePolicy === 'soft' ? ' WHERE NOT _tributary_deleted' : '';
        return (await c.runAndReadAll(`SELECT id, name FROM ${schema}.people${live} ORDER BY id`)).getRowsJson() as unknown[][];
      } finally {
        c.closeSync();
      }
    },
  };
}

async function snowflake(schema: string, deletePolicy: DeletePolicy): Promise<Target> {
  const config = parseHubConfig(
    {
      log: { path: '/unused' },
      sinks: [{ kind: 'snowflake', name: 'snow', account: 'emulated', user: 'loader', auth: { kind: 'password', password: 'emulator-password' }, warehouse: 'WH', database: 'DB', schema: schema.toUpperCase(), accessUrl: emu.accessUrl, mode: 'merge', deletePolicy, requestTimeoutMs: 3000 }],
    },
    {},
  ).sinks[0] as SnowflakeSinkConfig;
  const sink = new SnowflakeSink(config);
  const live = deletePolicy === 'soft' ? ' WHERE NOT "_TRIBUTARY_DELETED"' : '';
  return { sink, rows: () => emu.query(`SELECT "ID"::INTEGER, "NAME" FROM "${schema.toUpperCase()}"."PEOPLE"${live} ORDER BY "ID"`) };
}

const num = (rows: unknown[][]): unknown[][] => rows.map((r) => [Number(r[0]), r[1]]);

for (const [name, open] of [['PostgreSQL', postgres], ['DuckDB', duckdb], ['Snowflake (emulator)', snowflake]] as const) {
  test(`${name}: READ is an upsert guarded by position`, async () => {
    const t = await open(`reads_${name.slice(0, 4).toLowerCase()}`, 'hard');
    try {
      await t.sink.open(signal);
      await t.sink.write({ changes: [ch('insert', people, { after: [1n, 'ann', 1n], commit: 100n }), ch('update', people, { after: [1n, 'new', 2n], commit: 900n })], lastOffset: 1n }, signal);
      await t.sink.write({ changes: [ch('read', people, { after: [1n, 'stale', 1n], commit: 500n }), ch('read', people, { after: [2n, 'snap', 1n], commit: 600n })], lastOffset: 2n }, signal);
      assert.deepEqual(num(await t.rows()), [[1, 'new'], [2, 'snap']], 'an older READ does not overwrite a newer row; a new key is inserted');
      await t.sink.write({ changes: [ch('read', people, { after: [2n, 'snap2', 1n], commit: 650n })], lastOffset: 3n }, signal);
      assert.deepEqual(num(await t.rows()), [[1, 'new'], [2, 'snap2']], 'a newer READ wins');
    } finally {
      await t.sink[Symbol.asyncDispose]();
    }
  });

  test(`${name}: an older READ never revives a deleted row (soft deletes)`, async () => {
    const t = await open(`soft_${name.slice(0, 4).toLowerCase()}`, 'soft');
    try {
      await t.sink.open(signal);
      await t.sink.write({ changes: [ch('read', people, { after: [3n, 'cy', 1n], commit: 600n }), ch('delete', people, { key: [3n], commit: 700n })], lastOffset: 1n }, signal);
      await t.sink.write({ changes: [ch('read', people, { after: [3n, 'zombie', 1n], commit: 650n })], lastOffset: 2n }, signal);
      assert.deepEqual(num(await t.rows()), []);
    } finally {
      await t.sink[Symbol.asyncDispose]();
    }
  });
}
