/**
 * The snapshot chunk reader against a private MariaDB: for the type corpus
 * (test/support/mysql-corpus.ts, plus a TIMESTAMP written in another time
 * zone and zero dates) a row read by a keyset chunk equals, byte for byte in
 * the row encoding, the same row decoded from the binlog, and the table's
 * shape from INFORMATION_SCHEMA is the binlog's schema version. Keyset pages
 * over composite and edge-value keys read every row exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { AnyBinlogEvent, TableMapEvent } from '@vlasky/zongji';
import type mysql from 'mysql2/promise';
import { RowWriter } from '../proto/tributary/v1/row-codec.js';
import { RowConverter } from '../agent/sources/mysql/convert.js';
import { ChunkReader, openSnapshotConnection, type ChunkCursor } from '../agent/sources/mysql/snapshot-chunk.js';
import { readTableShape } from '../agent/sources/mysql/snapshot-shape.js';
import { MySqlSnapshotSource } from '../agent/sources/mysql/snapshot.js';
import { createLogger } from '../agent/log.js';
import { BinlogStream } from '../agent/sources/mysql/stream.js';
import { eventName, tableShape, type TableShape } from '../agent/sources/mysql/table-map.js';
import type { TableMapEntry } from '../agent/sources/mysql/types.js';
import { startMariaDb, type MariaDbInstance } from './support/mariadb.js';
import { CREATE_T, INSERT_COLS, ROW_MAX, ROW_MID, ROW_MIN, ROW_NULL } from './support/mysql-corpus.js';

let mdb: MariaDbInstance;
let conn: mysql.Connection;

before(async () => {
  mdb = await startMariaDb();
  await mdb.exec('CREATE DATABASE shop');
  conn = await openSnapshotConnection({ host: mdb.host, port: mdb.port, user: 'root', password: undefined });
  await conn.query('USE shop');
});

after(async () => {
  await conn?.end().catch(() => undefined);
  await mdb?.stop();
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Rows of `shop.t` as the binlog decodes them (encoded key and row), by id text, while `write` runs. */
async function binlogRows(count: number, write: () => Promise<void>): Promise<{ rows: Map<string, { key: string; row: string }>; shape: TableShape }> {
  const rows = new Map<string, { key: string; row: string }>();
  let shape: TableShape | null = null;
  let converter: RowConverter | null = null;
  const w = new RowWriter(4096);
  let done: () => void = () => undefined;
  const enough = new Promise<void>((r) => (done = r));
  const stream = new BinlogStream({
    connection: { host: mdb.host, port: mdb.port, user: 'root', password: undefined },
    serverId: mdb.serverId + 7,
    start: null,
    includeSchema: { shop: ['t'] },
    excludeSchema: undefined,
    heartbeatMs: 1000,
    onEvent: (e: AnyBinlogEvent) => {
      const name = eventName(e);
      if (name === 'tablemap') {
        const t = e as TableMapEvent;
        const entry = t.tableMap[t.tableId] as unknown as TableMapEntry;
        shape = tableShape(entry, t.primaryKey);
        converter = new RowConverter(shape.tableKey, shape.columns, shape.keyIndexes, 'null', () => undefined);
      } else if (name === 'writerows') {
        for (const r of (e as unknown as { rows: Record<string, unknown>[] }).rows) {
          converter!.writeKey(r, w.reset());
          const key = hex(w.finish());
          converter!.writeRow(r, w.reset());
          rows.set(String(r['id']), { key, row: hex(w.finish()) });
        }
        if (rows.size >= count) done();
      }
    },
  });
  const running = stream.run();
  // The dump starts at the server's end: wait until it is open before writing.
  for (let i = 0; i < 600; i++) {
    const [p] = await conn.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
    if (Number((p as { n: unknown }[])[0]?.n) > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await write();
  await Promise.race([enough, new Promise((_, reject) => setTimeout(() => reject(new Error(`binlog gave ${rows.size} of ${count} rows`)), 60_000))]);
  stream.stop();
  await running;
  return { rows, shape: shape! };
}

test('a chunk row equals the binlog row for every type of the corpus', { timeout: 180_000 }, async () => {
  await conn.query(CREATE_T);
  const { rows: fromBinlog, shape: binlogShape } = await binlogRows(6, async () => {
    const c = await mdb.connect('shop');
    try {
      await c.query("SET SESSION time_zone = '+00:00'");
      await c.query(`INSERT INTO t (${INSERT_COLS}) VALUES ${ROW_MAX}, ${ROW_MIN}, ${ROW_NULL}, ${ROW_MID}`);
      await c.query("SET SESSION time_zone = '+05:00'");
      await c.query("INSERT INTO t (id, ts, dtm, e) VALUES (10, '2020-01-01 05:00:00', '2020-01-01 05:00:00', 'large')");
      await c.query("SET SESSION time_zone = '+00:00', SESSION sql_mode = ''");
      await c.query("INSERT INTO t (id, dt, dtm, dt0, e, y) VALUES (11, '0000-00-00', '0000-00-00 00:00:00', '2020-00-10 00:00:00', 'nope', 0)");
    } finally {
      await c.end();
    }
  });
  const shape = await readTableShape(conn, 'shop', 't');
  // MariaDB keeps INFORMATION_SCHEMA in utf8mb3: a 4-byte character in an ENUM
  // or SET value reads as '?' there (SHOW CREATE TABLE too); the binlog has it.
  const binlogTypes = binlogShape.columns.map((c) => [c.name, c.kind, c.name === 'e' ? c.sourceType.replace('😀', '?') : c.sourceType]);
  assert.deepEqual(
    shape.columns.map((c) => [c.name, c.kind, c.sourceType]),
    binlogTypes,
  );
  const reader = new ChunkReader(shape);
  const converter = new RowConverter(shape.tableKey, shape.columns, shape.keyOrder, 'null', () => undefined);
  const w = new RowWriter(4096);
  const seen: string[] = [];
  let cursor: ChunkCursor | null = null;
  for (;;) {
    const chunk = await reader.read(conn, cursor, 2);
    if (chunk.rows.length === 0) break;
    for (const r of chunk.rows) {
      const id = String(r[0]);
      seen.push(id);
      converter.writeKeyValues(r, w.reset());
      const key = hex(w.finish());
      converter.writeValues(r, w.reset());
      const row = hex(w.finish());
      const b = fromBinlog.get(id);
      assert.ok(b !== undefined, `row ${id} in the binlog`);
      assert.equal(key, b.key, `key of row ${id}`);
      assert.equal(row, b.row, `row ${id}: chunk and binlog encode the same values`);
    }
    cursor = chunk.last;
  }
  assert.deepEqual(seen, ['0', '1', '2', '10', '11', '18446744073709551615']);
});

test('keyset chunks read every row once: composite key in declared order, edge values, quotes and binary keys', { timeout: 120_000 }, async () => {
  await conn.query('CREATE TABLE c (k1 int, k2 varchar(10), k3 varbinary(4), n int, PRIMARY KEY (k2, k3, k1))');
  const values: string[] = [];
  for (let i = 0; i < 97; i++) values.push(`(${i % 5 === 0 ? -2147483648 + i : i}, ${["'a''b'", "'a\\\\b'", "'zz'", "'Ä'", "''"][i % 5]}, x'${(i % 3).toString(16).padStart(2, '0')}ff', ${i})`);
  await conn.query(`INSERT INTO c VALUES ${values.join(', ')}`);
  await conn.query('CREATE TABLE u (id bigint unsigned PRIMARY KEY, n int)');
  await conn.query('INSERT INTO u VALUES (0, 0), (9007199254740993, 1), (18446744073709551614, 2), (18446744073709551615, 3)');
  for (const [table, size, total] of [['c', 7, 97], ['u', 1, 4]] as const) {
    const reader = new ChunkReader(await readTableShape(conn, 'shop', table));
    const got: string[] = [];
    let cursor: ChunkCursor | null = null;
    for (;;) {
      const chunk = await reader.read(conn, cursor, size);
      if (chunk.rows.length === 0) break;
      got.push(...chunk.rows.map((r) => String(r[table === 'c' ? 3 : 1])));
      cursor = JSON.parse(JSON.stringify(chunk.last)) as ChunkCursor; // as the spool stores it
    }
    const [all] = await conn.query({ sql: `SELECT n FROM ${table} ORDER BY ${table === 'c' ? 'k2, k3, k1' : 'id'}`, rowsAsArray: true });
    assert.equal(got.length, total);
    assert.deepEqual(got, (all as unknown[][]).map((r) => String(r[0])));
  }
});

test('a table without a primary key is described as such and never read in chunks', { timeout: 60_000 }, async () => {
  await conn.query('CREATE TABLE nokey (a int, b varchar(5))');
  const source = new MySqlSnapshotSource({
    connection: { host: mdb.host, port: mdb.port, user: 'root', password: undefined },
    signalTable: null,
    zeroDates: 'null',
    log: createLogger('error', {}, () => undefined),
    capture: () => null,
  });
  try {
    const info = await source.describe('shop.nokey');
    assert.equal(info.kind, 'noKey');
    assert.match(info.kind === 'noKey' ? info.reason : '', /no primary key/);
    assert.throws(() => new ChunkReader({ db: 'shop', table: 'nokey', tableKey: 'shop.nokey', columns: [], keyOrder: [], fingerprint: '', rowsEstimate: 0 }), /no primary key/);
  } finally {
    await source.close();
  }
});
