/**
 * The MySQL/MariaDB type corpus (test/support/mysql-corpus.ts) from a
 * private MariaDB through agent and hub into DuckDB and the local Snowflake
 * EMULATOR (test/support/snowflake-emulator, which executes on DuckDB):
 * every column's destination type and every value, against the README's
 * mapping of MySQL columns.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { startMariaDb, type MariaDbInstance } from '../support/mariadb.js';
import { CREATE_T, INSERT_COLS, ROW_MAX, ROW_MID, ROW_MIN, ROW_NULL } from '../support/mysql-corpus.js';
import { binlogStreaming, mysqlAgentProcess, mysqlRows, normFloat, prepareShop } from '../support/mysql-e2e.js';
import { ManagedProcess, TEST_ADMIN_TOKEN, freePort, httpJson, tempDir, waitFor } from '../support/pipeline.js';
import { startSnowflakeEmulator, type SnowflakeEmulator } from '../support/snowflake-emulator/server.js';

const ISO_TIME = "CONCAT('P0M0DT', IF(TIME_TO_SEC(tm) < 0, '-', ''), FLOOR(ABS(TIME_TO_SEC(tm))), '.', LPAD(MICROSECOND(tm), 6, '0'), 'S')";
const TS = "strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f')";

/** Per column: destination type in DuckDB, in Snowflake (as the emulator's DuckDB stores it), and [MySQL, DuckDB, Snowflake] expressions printing the same text. */
const COLUMNS: readonly { col: string; duck: string; snow: string; my: string; d: string; s?: string; sMy?: string }[] = [
  { col: 'id', duck: 'DECIMAL(20,0)', snow: 'DECIMAL(20,0)', my: 'CAST(id AS CHAR)', d: 'id::VARCHAR' },
  { col: 'ti', duck: 'SMALLINT', snow: 'DECIMAL(5,0)', my: 'CAST(ti AS CHAR)', d: 'ti::VARCHAR' },
  { col: 'tu', duck: 'SMALLINT', snow: 'DECIMAL(5,0)', my: 'CAST(tu AS CHAR)', d: 'tu::VARCHAR' },
  { col: 'b', duck: 'SMALLINT', snow: 'DECIMAL(5,0)', my: 'CAST(b AS CHAR)', d: 'b::VARCHAR' },
  { col: 'si', duck: 'SMALLINT', snow: 'DECIMAL(5,0)', my: 'CAST(si AS CHAR)', d: 'si::VARCHAR' },
  { col: 'su', duck: 'INTEGER', snow: 'DECIMAL(10,0)', my: 'CAST(su AS CHAR)', d: 'su::VARCHAR' },
  { col: 'mi', duck: 'INTEGER', snow: 'DECIMAL(10,0)', my: 'CAST(mi AS CHAR)', d: 'mi::VARCHAR' },
  { col: 'mu', duck: 'INTEGER', snow: 'DECIMAL(10,0)', my: 'CAST(mu AS CHAR)', d: 'mu::VARCHAR' },
  { col: 'i', duck: 'INTEGER', snow: 'DECIMAL(10,0)', my: 'CAST(i AS CHAR)', d: 'i::VARCHAR' },
  { col: 'iu', duck: 'BIGINT', snow: 'DECIMAL(19,0)', my: 'CAST(iu AS CHAR)', d: 'iu::VARCHAR' },
  { col: 'bi', duck: 'BIGINT', snow: 'DECIMAL(19,0)', my: 'CAST(bi AS CHAR)', d: 'bi::VARCHAR' },
  { col: 'bu', duck: 'DECIMAL(20,0)', snow: 'DECIMAL(20,0)', my: 'CAST(bu AS CHAR)', d: 'bu::VARCHAR' },
  { col: 'd', duck: 'VARCHAR', snow: 'VARCHAR', my: 'CAST(d AS CHAR)', d: 'd' },
  { col: 'd2', duck: 'DECIMAL(10,2)', snow: 'DECIMAL(10,2)', my: 'CAST(d2 AS CHAR)', d: 'd2::VARCHAR' },
  // FLOAT: the exact float32 value, widened to a double on every side.
  { col: 'f', duck: 'FLOAT', snow: 'DOUBLE', my: 'CAST(CAST(f AS DOUBLE) AS CHAR)', d: 'f::DOUBLE::VARCHAR' },
  { col: 'db', duck: 'DOUBLE', snow: 'DOUBLE', my: 'CAST(db AS CHAR)', d: 'db::VARCHAR' },
  { col: 'bt', duck: 'BLOB', snow: 'BLOB', my: "LOWER(LPAD(HEX(bt), 4, '0'))", d: 'lower(hex(bt))' },
  { col: 'c', duck: 'VARCHAR', snow: 'VARCHAR', my: 'c', d: 'c' },
  { col: 'vc', duck: 'VARCHAR', snow: 'VARCHAR', my: 'vc', d: 'vc' },
  { col: 'tx', duck: 'VARCHAR', snow: 'VARCHAR', my: 'tx', d: 'tx' },
  { col: 'bn', duck: 'BLOB', snow: 'BLOB', my: 'LOWER(HEX(bn))', d: 'lower(hex(bn))' },
  { col: 'vb', duck: 'BLOB', snow: 'BLOB', my: 'LOWER(HEX(vb))', d: 'lower(hex(vb))' },
  { col: 'bl', duck: 'BLOB', snow: 'BLOB', my: 'LOWER(HEX(bl))', d: 'lower(hex(bl))' },
  { col: 'dt', duck: 'DATE', snow: 'DATE', my: 'CAST(dt AS CHAR)', d: 'dt::VARCHAR' },
  { col: 'dtm', duck: 'TIMESTAMP', snow: 'TIMESTAMP', my: "DATE_FORMAT(dtm, '%Y-%m-%d %H:%i:%s.%f')", d: "strftime(dtm, '%Y-%m-%d %H:%M:%S.%f')" },
  { col: 'dt0', duck: 'TIMESTAMP', snow: 'TIMESTAMP', my: "DATE_FORMAT(dt0, '%Y-%m-%d %H:%i:%s')", d: "strftime(dt0, '%Y-%m-%d %H:%M:%S')" },
  { col: 'ts', duck: 'TIMESTAMP WITH TIME ZONE', snow: 'TIMESTAMP WITH TIME ZONE', my: "DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f')", d: TS },
  // TIME: an INTERVAL of µs in DuckDB; in Snowflake (no interval type) ISO 8601 text.
  { col: 'tm', duck: 'INTERVAL', snow: 'VARCHAR', my: 'CAST(ROUND(TIME_TO_SEC(tm) * 1000000) AS CHAR)', d: 'CAST(round(epoch(tm) * 1000000) AS BIGINT)::VARCHAR', s: 'tm', sMy: ISO_TIME },
  { col: 'y', duck: 'SMALLINT', snow: 'DECIMAL(5,0)', my: 'CAST(CAST(y AS UNSIGNED) AS CHAR)', d: 'y::VARCHAR' },
  { col: 'e', duck: 'VARCHAR', snow: 'VARCHAR', my: 'e', d: 'e' },
  { col: 's', duck: 'VARCHAR', snow: 'VARCHAR', my: 's', d: 's' },
  // MariaDB's JSON is LONGTEXT: it lands as text, exactly as written.
  { col: 'j', duck: 'VARCHAR', snow: 'VARCHAR', my: 'CAST(j AS CHAR)', d: 'j' },
  { col: 'g', duck: 'INTEGER', snow: 'DECIMAL(10,0)', my: 'CAST(g AS CHAR)', d: 'g::VARCHAR' },
  { col: 'gs', duck: 'INTEGER', snow: 'DECIMAL(10,0)', my: 'CAST(gs AS CHAR)', d: 'gs::VARCHAR' },
  { col: 'inv', duck: 'INTEGER', snow: 'DECIMAL(10,0)', my: 'CAST(inv AS CHAR)', d: 'inv::VARCHAR' },
];

/** The corpus rows, row 10 (time zones) and row 11 (zero dates). */
const ROWS = 6;
let mdb: MariaDbInstance;
let src: mysql.Connection;
let emu: SnowflakeEmulator;
let hub: ManagedProcess;
let agent: ManagedProcess;
let httpPort: number;
let dir: string;
let duckPath: string;

before(async () => {
  mdb = await startMariaDb();
  await prepareShop(mdb);
  dir = tempDir('mysql-warehouse');
  duckPath = join(dir, 'warehouse.duckdb');
  emu = await startSnowflakeEmulator({ dir: join(dir, 'snowflake'), user: 'loader', password: 'emulator-password' });
  const grpcPort = await freePort();
  httpPort = await freePort();
  const config = {
    hubId: 'mysql-warehouse-hub',
    grpc: { listen: `127.0.0.1:${grpcPort}` },
    http: { listen: `127.0.0.1:${httpPort}` },
    log: { kind: 'embedded', path: join(dir, 'hub', 'log') },
    sinks: [
      { name: 'duck', kind: 'duckdb', path: duckPath, schema: 'shop' },
      {
        name: 'snow', kind: 'snowflake', account: 'emulated', user: 'loader', auth: { kind: 'password', password: { env: 'TEST_SNOWFLAKE_PASSWORD' } },
        warehouse: 'WH', database: 'DB', schema: 'SHOP', accessUrl: emu.accessUrl, requestTimeoutMs: 5000,
      },
    ],
    pipelines: [{ name: 'main', agent: 'agent-1', source: 'shop', sinks: ['duck', 'snow'] }],
    security: { plaintext: true, adminTokens: [{ workspace: 'default', token: TEST_ADMIN_TOKEN }] },
    logLevel: 'info',
  };
  const path = join(dir, 'hub.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  hub = new ManagedProcess('hub', ['hub', '--config', path], join(dir, 'hub.log'), { TEST_SNOWFLAKE_PASSWORD: 'emulator-password' });
  agent = mysqlAgentProcess({ dir: join(dir, 'agent'), hubPort: grpcPort, mdb, serverId: mdb.serverId + 1 });
  src = await mdb.connect('shop');
  await src.query("SET SESSION time_zone = '+00:00'");
  await src.query(CREATE_T);
  hub.start();
  agent.start();
  await binlogStreaming({ src });
});

after(async () => {
  await agent?.stop();
  await hub?.stop();
  agent?.close();
  hub?.close();
  await src?.end().catch(() => undefined);
  await emu?.close();
  await mdb?.stop();
});

interface Pipelines {
  logHead: number;
  pipelines: { sinks: { name: string; offset: number; lastError: string | null }[] }[];
}

const textRows = (rows: unknown[][]): (string | null)[][] => rows.map((r) => r.map((v) => (v === null ? null : normFloat(String(v)))));

test('MariaDB type corpus → DuckDB and Snowflake (emulated): every type and value by the documented mapping', { timeout: 120_000 }, async () => {
  await src.query(`INSERT INTO t (${INSERT_COLS}) VALUES ${ROW_MAX}, ${ROW_MIN}, ${ROW_NULL}, ${ROW_MID}`);
  // TIMESTAMP is an instant, DATETIME a wall-clock value, whatever the writer's time zone.
  await src.query("SET SESSION time_zone = '+05:00'");
  await src.query("INSERT INTO t (id, ts, dtm) VALUES (10, '2020-01-01 05:00:00', '2020-01-01 05:00:00')");
  await src.query("SET SESSION time_zone = '+00:00'");
  // Zero dates land as NULL under the default policy (and so compare with the source's NULL-ish text below).
  await src.query("SET SESSION sql_mode = ''");
  await src.query("INSERT INTO t (id, dt, dtm, dt0) VALUES (11, '0000-00-00', '0000-00-00 00:00:00', '2020-00-10 00:00:00')");
  await src.query('SET SESSION sql_mode = DEFAULT');
  let last = '';
  await waitFor(
    'both sinks to apply the corpus',
    async () => {
      const p = await httpJson<Pipelines>(httpPort, '/v1/pipelines');
      const sinks = p.pipelines[0]?.sinks ?? [];
      last = JSON.stringify({ head: p.logHead, sinks });
      const failed = sinks.find((s) => s.lastError !== null);
      if (failed !== undefined) throw new Error(`sink ${failed.name} failed: ${failed.lastError}; logs in ${dir}`);
      const snowRows = p.logHead > 0 ? await emu.query('SELECT count(*)::INTEGER FROM "SHOP"."SHOP_T"').catch(() => [[0]]) : [[0]];
      return p.logHead > 0 && sinks.length === 2 && sinks.every((s) => s.offset >= p.logHead) && snowRows[0]?.[0] === ROWS;
    },
    60_000,
    250,
  ).catch((e: unknown) => {
    throw new Error(`${String(e)}; ${last}; logs in ${dir}`);
  });
  await hub.stop(); // DuckDB admits one process at a time.

  const types = 'SELECT column_name, data_type FROM information_schema.columns WHERE lower(table_name) = \'shop_t\' AND column_name NOT ILIKE \'\\_tributary%\' ESCAPE \'\\\' ORDER BY ordinal_position';
  const instance = await DuckDBInstance.create(duckPath);
  const conn = await instance.connect();
  let duckTypes: string[][];
  let duck: (string | null)[][];
  try {
    await conn.run("SET TimeZone = 'UTC'");
    duckTypes = (await conn.runAndReadAll(types)).getRowsJson() as string[][];
    duck = textRows((await conn.runAndReadAll(`SELECT ${COLUMNS.map((c) => c.d).join(', ')} FROM shop.shop_t ORDER BY id`)).getRowsJson() as unknown[][]);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  await emu.query("SET TimeZone = 'UTC'");
  const snowTypes = await emu.query(types);
  const snow = textRows(await emu.query(`SELECT ${COLUMNS.map((c) => c.s ?? c.d).join(', ')} FROM "SHOP"."SHOP_T" ORDER BY "ID"`));

  assert.deepEqual(duckTypes.map(([n, t]) => [n, t]), COLUMNS.map((c) => [c.col, c.duck]), 'DuckDB column types');
  assert.deepEqual(snowTypes.map(([n, t]) => [String(n).toLowerCase(), t]), COLUMNS.map((c) => [c.col, c.snow]), 'Snowflake column types');
  const source = await mysqlRows(src, `SELECT ${COLUMNS.map((c) => c.my).join(', ')} FROM shop.t ORDER BY id`);
  const sourceSnow = await mysqlRows(src, `SELECT ${COLUMNS.map((c) => c.sMy ?? c.my).join(', ')} FROM shop.t ORDER BY id`);
  assert.equal(source.length, ROWS);
  const at = (rows: (string | null)[][], id: string, col: string) => rows.find((r) => r[0] === id)?.[COLUMNS.findIndex((c) => c.col === col)];
  for (const [side, rows] of [['DuckDB', duck], ['Snowflake', snow]] as const) {
    assert.equal(at(rows, '10', 'dtm'), '2020-01-01 05:00:00.000000', `${side}: DATETIME keeps the wall clock`);
    assert.equal(at(rows, '10', 'ts'), '2020-01-01 00:00:00.000000', `${side}: TIMESTAMP written at +05:00 is the instant 00:00 UTC`);
    for (const col of ['dt', 'dtm', 'dt0']) assert.equal(at(rows, '11', col), null, `${side}: zero date in ${col} lands as NULL`);
  }
  // The source prints zero dates as text; the destination holds NULL (checked above).
  for (const rows of [source, sourceSnow]) for (const col of ['dt', 'dtm', 'dt0']) rows.find((r) => r[0] === '11')![COLUMNS.findIndex((c) => c.col === col)] = null;
  for (let r = 0; r < source.length; r++) {
    for (let c = 0; c < COLUMNS.length; c++) {
      const name = COLUMNS[c]!.col;
      assert.equal(duck[r]?.[c], source[r]![c], `DuckDB row ${r} column ${name}`);
      assert.equal(snow[r]?.[c], sourceSnow[r]![c], `Snowflake row ${r} column ${name}`);
    }
  }
});
