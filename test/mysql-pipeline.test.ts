/**
 * MariaDB binlog → agent → hub → PostgreSQL sink, against a private
 * MariaDB 10.11 and PostgreSQL: every type value by value, updates, deletes,
 * key changes, multi-table transactions, DDL mid-stream, TRUNCATE, the
 * zero-date policy and TIMESTAMP vs DATETIME time-zone semantics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { binlogStreaming, convergedRows, pgRows, startMySqlE2E, type MySqlE2E } from './support/mysql-e2e.js';
import { CREATE_T, INSERT_COLS, ROW_MAX, ROW_MID, ROW_MIN, ROW_NULL } from './support/mysql-corpus.js';
import { waitFor } from './support/pipeline.js';

/** [MySQL expression, PostgreSQL expression] pairs that print the same text for the same value. */
const COLUMNS: readonly (readonly [string, string])[] = [
  ['CAST(id AS CHAR)', 'id::text'],
  ['CAST(ti AS CHAR)', 'ti::text'],
  ['CAST(tu AS CHAR)', 'tu::text'],
  ['CAST(b AS CHAR)', 'b::text'],
  ['CAST(si AS CHAR)', 'si::text'],
  ['CAST(su AS CHAR)', 'su::text'],
  ['CAST(mi AS CHAR)', 'mi::text'],
  ['CAST(mu AS CHAR)', 'mu::text'],
  ['CAST(i AS CHAR)', 'i::text'],
  ['CAST(iu AS CHAR)', 'iu::text'],
  ['CAST(bi AS CHAR)', 'bi::text'],
  ['CAST(bu AS CHAR)', 'bu::text'],
  ['CAST(d AS CHAR)', 'd::text'],
  ['CAST(d2 AS CHAR)', 'd2::text'],
  // FLOAT: the exact float32 value, widened to a double on both sides.
  ['CAST(CAST(f AS DOUBLE) AS CHAR)', "CASE WHEN f IS NULL THEN NULL ELSE f::float8::text END"],
  ['CAST(db AS CHAR)', 'db::text'],
  ["LOWER(LPAD(HEX(bt), 4, '0'))", "encode(bt, 'hex')"],
  ['c', 'c'],
  ['vc', 'vc'],
  ['tx', 'tx'],
  ['LOWER(HEX(bn))', "encode(bn, 'hex')"],
  ['LOWER(HEX(vb))', "encode(vb, 'hex')"],
  ['LOWER(HEX(bl))', "encode(bl, 'hex')"],
  ['CAST(dt AS CHAR)', 'dt::text'],
  ["DATE_FORMAT(dtm, '%Y-%m-%d %H:%i:%s.%f')", "to_char(dtm, 'YYYY-MM-DD HH24:MI:SS.US')"],
  ["DATE_FORMAT(dt0, '%Y-%m-%d %H:%i:%s')", "to_char(dt0, 'YYYY-MM-DD HH24:MI:SS')"],
  ["DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f')", "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"],
  ['CAST(ROUND(TIME_TO_SEC(tm) * 1000000) AS CHAR)', '(extract(epoch from tm) * 1000000)::bigint::text'],
  ['CAST(CAST(y AS UNSIGNED) AS CHAR)', 'y::text'],
  ['e', 'e'],
  ['s', 's'],
  ['CAST(j AS CHAR)', 'j::text'],
  ['CAST(g AS CHAR)', 'g::text'],
  ['CAST(gs AS CHAR)', 'gs::text'],
  ['CAST(inv AS CHAR)', 'inv::text'],
];

function selectSql(where = ''): { my: string; pg: string } {
  return {
    my: `SELECT ${COLUMNS.map(([m]) => m).join(', ')} FROM shop.t ${where} ORDER BY id`,
    pg: `SELECT ${COLUMNS.map(([, p]) => p).join(', ')} FROM public.shop_t x ${where} ORDER BY x.id`,
  };
}

describe('MariaDB source → PostgreSQL sink', { timeout: 300_000 }, () => {
  let e: MySqlE2E;

  before(async () => {
    e = await startMySqlE2E({ name: 'mysql-types' });
    await e.src.query("SET SESSION time_zone = '+00:00'");
    await e.src.query(CREATE_T);
    await e.src.query('CREATE TABLE a (id int PRIMARY KEY, v varchar(10))');
    await e.src.query('CREATE TABLE b (k1 int, k2 varchar(5), n int, PRIMARY KEY (k2, k1))');
    e.hub.start();
    e.agent.start();
    await binlogStreaming(e);
  });

  after(async () => {
    await e?.close();
  });

  it('carries every type value by value', async () => {
    await e.src.query(`INSERT INTO t (${INSERT_COLS}) VALUES ${ROW_MAX}, ${ROW_MIN}, ${ROW_NULL}, ${ROW_MID}`);
    const q = selectSql();
    await convergedRows(e, q.my, q.pg, 20_000);
    const [[row]] = [await pgRows(e.dst, "SELECT bu::text, d::text, vc, tm::text FROM public.shop_t WHERE id = 18446744073709551615")];
    assert.deepEqual(row, ['18446744073709551615', '99999999999999999999999999999999999.999999999999999999999999999999', '😀 ü 中文 𝄞', '838:59:59']);
    const types = await pgRows(
      e.dst,
      "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_name = 'shop_t' AND column_name IN ('bu','tm','ts','dtm','d','f') ORDER BY column_name",
    );
    assert.deepEqual(types, [
      ['bu', 'numeric'],
      ['d', 'numeric'],
      ['dtm', 'timestamp without time zone'],
      ['f', 'real'],
      ['tm', 'interval'],
      ['ts', 'timestamp with time zone'],
    ]);
  });

  it('keeps TIMESTAMP an instant and DATETIME a wall-clock value whatever the writer\'s time zone', async () => {
    await e.src.query("SET SESSION time_zone = '+05:00'");
    await e.src.query("INSERT INTO t (id, ts, dtm) VALUES (10, '2020-01-01 05:00:00', '2020-01-01 05:00:00')");
    await e.src.query("SET SESSION time_zone = '+00:00'");
    await waitFor('row 10', async () => (await pgRows(e.dst, 'SELECT 1 FROM public.shop_t WHERE id = 10')).length === 1, 60_000);
    const [row] = await pgRows(e.dst, "SELECT (ts AT TIME ZONE 'UTC')::text, dtm::text FROM public.shop_t WHERE id = 10");
    assert.deepEqual(row, ['2020-01-01 00:00:00', '2020-01-01 05:00:00']);
  });

  it('lands zero dates as NULL under the default policy', async () => {
    await e.src.query("SET SESSION sql_mode = ''");
    await e.src.query("INSERT INTO t (id, dt, dtm, dt0) VALUES (11, '0000-00-00', '0000-00-00 00:00:00', '2020-00-10 00:00:00')");
    await e.src.query('SET SESSION sql_mode = DEFAULT');
    await waitFor('row 11', async () => (await pgRows(e.dst, 'SELECT 1 FROM public.shop_t WHERE id = 11')).length === 1, 60_000);
    const [row] = await pgRows(e.dst, 'SELECT dt, dtm, dt0 FROM public.shop_t WHERE id = 11');
    assert.deepEqual(row, [null, null, null]);
  });

  it('applies updates, deletes and key changes', async () => {
    await e.src.query("UPDATE t SET vc = 'changed', bu = 18446744073709551614, ts = '2001-01-01 00:00:00.123' WHERE id = 2");
    await e.src.query('DELETE FROM t WHERE id = 1');
    await e.src.query('UPDATE t SET id = 3 WHERE id = 0');
    const q = selectSql('WHERE id NOT IN (10, 11)');
    await convergedRows(e, q.my, q.pg, 20_000);
  });

  it('applies multi-table transactions whole, with composite keys', async () => {
    await e.src.beginTransaction();
    for (let n = 1; n <= 50; n++) {
      await e.src.query('INSERT INTO a VALUES (?, ?)', [n, `v${n}`]);
      await e.src.query('INSERT INTO b VALUES (?, ?, ?)', [n, `k${n % 3}`, n * 10]);
    }
    await e.src.query('UPDATE a SET v = CONCAT(v, "!") WHERE id % 2 = 0');
    await e.src.query('DELETE FROM b WHERE k1 > 40');
    await e.src.commit();
    await convergedRows(e, 'SELECT CAST(id AS CHAR), v FROM shop.a ORDER BY id', 'SELECT id::text, v FROM public.shop_a x ORDER BY x.id');
    await convergedRows(
      e,
      'SELECT CAST(k1 AS CHAR), k2, CAST(n AS CHAR) FROM shop.b ORDER BY k2, k1',
      'SELECT k1::text, k2, n::text FROM public.shop_b x ORDER BY x.k2, x.k1',
    );
  });

  it('decodes rows before a DDL change with the old columns and after it with the new', async () => {
    await e.src.beginTransaction();
    await e.src.query("INSERT INTO a VALUES (100, 'before')");
    await e.src.commit();
    await e.src.query('ALTER TABLE a ADD COLUMN extra bigint unsigned NULL');
    await e.src.query("INSERT INTO a VALUES (101, 'after', 18446744073709551615)");
    await convergedRows(
      e,
      'SELECT CAST(id AS CHAR), v, CAST(extra AS CHAR) FROM shop.a ORDER BY id',
      'SELECT id::text, v, extra::text FROM public.shop_a x ORDER BY x.id',
    );
  });

  it('decodes a backlog across DDL with each row\'s own columns (read after the DDL ran)', async () => {
    await e.agent.stop();
    await e.src.query("INSERT INTO a (id, v) VALUES (102, 'old shape')");
    await e.src.query("ALTER TABLE a DROP COLUMN extra, ADD COLUMN z varchar(5) NOT NULL DEFAULT 'zz' FIRST");
    await e.src.query("INSERT INTO a (id, v, z) VALUES (103, 'new shape', 'new')");
    e.agent.start();
    await binlogStreaming(e);
    await convergedRows(
      e,
      'SELECT CAST(id AS CHAR), v FROM shop.a WHERE id >= 102 ORDER BY id',
      'SELECT id::text, v FROM public.shop_a x WHERE x.id >= 102 ORDER BY x.id',
    );
    // Row 102's image was written before the ALTER, with `extra` and without `z`
    // (the ALTER's default fill is not row-logged); row 103's after it.
    const rows = await pgRows(e.dst, 'SELECT id::text, extra::text, z FROM public.shop_a x WHERE x.id >= 102 ORDER BY x.id');
    assert.deepEqual(rows, [
      ['102', null, null],
      ['103', null, 'new'],
    ]);
  });

  it('applies TRUNCATE', async () => {
    await e.src.query('TRUNCATE TABLE b');
    await e.src.query("INSERT INTO b VALUES (1, 'x', 1)");
    await convergedRows(
      e,
      'SELECT CAST(k1 AS CHAR), k2, CAST(n AS CHAR) FROM shop.b ORDER BY k2, k1',
      'SELECT k1::text, k2, n::text FROM public.shop_b x ORDER BY x.k2, x.k1',
    );
  });
});
