/**
 * Schema drift from a MariaDB source (binlog_row_metadata=FULL) under load,
 * through the real agent and hub into PostgreSQL, DuckDB and Snowflake
 * (emulated): while a writer keeps changing rows, the table is altered
 * (ADD COLUMN with and without default, DROP COLUMN, widening and
 * incompatible MODIFY, RENAME COLUMN, CREATE and DROP TABLE). MySQL commits
 * every DDL by itself, so a DDL never shares a transaction with rows here.
 * Same checks as schema-drift-pg.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { readDestinations, settle, startDriftHub, differences, type ColumnMap, type DriftHub, type Rows } from '../support/drift.js';
import { startMariaDb, type MariaDbInstance } from '../support/mariadb.js';
import { binlogStreaming, mysqlAgentProcess, mysqlRows, prepareShop } from '../support/mysql-e2e.js';
import { httpJson, tempDir, waitFor, type ManagedProcess } from '../support/pipeline.js';

let mdb: MariaDbInstance;
let src: mysql.Connection;
let h: DriftHub;
let agent: ManagedProcess;
let dir: string;

before(async () => {
  dir = tempDir('drift-mysql');
  mdb = await startMariaDb();
  await prepareShop(mdb);
  src = await mdb.connect('shop');
  await src.query('CREATE TABLE items (id INT PRIMARY KEY, tick BIGINT NOT NULL DEFAULT 0, qty INT, note VARCHAR(10), price DECIMAL(10,2), old TEXT)');
  await src.query('CREATE TABLE marker (id INT PRIMARY KEY)');
  h = await startDriftHub(dir, 'agent-1', 'shop');
  agent = mysqlAgentProcess({ dir: join(dir, 'agent'), hubPort: h.grpcPort, mdb, serverId: mdb.serverId + 1, batchEvents: 200 });
  agent.start();
  await binlogStreaming({ src });
  await src.query(`INSERT INTO items SELECT seq, 1, seq, CONCAT('n', seq), seq * 1.25, CONCAT('o', seq) FROM seq_1_to_400`);
});

after(async () => {
  await agent?.stop();
  agent?.close();
  await h?.close();
  await src?.end().catch(() => undefined);
  await mdb?.stop();
});

/** Keys 1-300 (400 rows at the start: 301-400 are touched only by the DDL steps); a statement that meets a DDL lock just waits. */
function startWriter(conn: mysql.Connection): { stop(): Promise<number> } {
  let running = true;
  let committed = 0;
  let seed = 11;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const loop = (async () => {
    while (running) {
      try {
        await conn.query('BEGIN');
        for (let i = 0, n = 1 + rnd(4); i < n; i++) {
          const id = 1 + rnd(300);
          const op = rnd(10);
          if (op < 4) await conn.query('INSERT INTO items (id, tick, qty, note, price) VALUES (?, 1, ?, ?, ?) ON DUPLICATE KEY UPDATE tick = tick + 1', [id, id, `w${rnd(1000)}`, `${rnd(1000)}.50`]);
          else if (op < 9) await conn.query('UPDATE items SET tick = tick + 1, qty = qty + 1 WHERE id = ?', [id]);
          else await conn.query('DELETE FROM items WHERE id = ?', [id]);
        }
        await conn.query('COMMIT');
        committed++;
      } catch {
        await conn.query('ROLLBACK').catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 3));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return committed;
    },
  };
}

const DDL: readonly string[][] = [
  ['ALTER TABLE items ADD COLUMN a INT', 'UPDATE items SET a = id WHERE id % 2 = 0'],
  [`ALTER TABLE items ADD COLUMN b VARCHAR(20) DEFAULT 'dflt'`],
  ['ALTER TABLE items DROP COLUMN old'],
  ['ALTER TABLE items MODIFY qty BIGINT'],
  ['ALTER TABLE items MODIFY note VARCHAR(40)'],
  ['ALTER TABLE items MODIFY price VARCHAR(20)'],
  ['ALTER TABLE items RENAME COLUMN a TO a2', 'UPDATE items SET a2 = id * 10 WHERE id % 5 = 0'],
  ['CREATE TABLE extra (id INT PRIMARY KEY, v TEXT)', `INSERT INTO extra SELECT seq, CONCAT('x', seq) FROM seq_1_to_20`],
  ['DROP TABLE extra'],
];

const COLUMNS = ['id', 'tick', 'qty', 'note', 'price', 'b', 'a2'];
/** Columns the source no longer has, kept at the destination (the incompatible change's original column included). */
const KEPT = ['old', 'price (original)', 'a'];
const map: ColumnMap = (sink, c) => {
  if (c === 'price') return { pg: 'price__text', duck: 'price__varchar', snow: 'PRICE__VARCHAR' }[sink];
  const name = c === 'price (original)' ? 'price' : c;
  return sink === 'snow' ? name.toUpperCase() : name;
};

async function sourceRows(): Promise<Rows> {
  const rows = await mysqlRows(src, `SELECT ${COLUMNS.map((c) => `CAST(${c} AS CHAR)`).join(', ')} FROM items`);
  return new Map(rows.map((r) => [String(r[0]), r]));
}

let mark = 0;
/** A marker row written last: once the PostgreSQL destination has it, the agent has read everything before it. */
async function caughtUpFn(): Promise<() => Promise<boolean>> {
  const id = ++mark;
  await src.query('INSERT INTO marker VALUES (?)', [id]);
  return async () => (await h.dst.query('SELECT 1 FROM dest.shop_marker WHERE id = $1', [id]).catch(() => ({ rowCount: 0 }))).rowCount === 1;
}

test('nine schema changes under a running writer: nothing stops, nothing is lost, every destination converges', async () => {
  const writerConn = await mdb.connect('shop');
  const writer = startWriter(writerConn);
  let lastDdl = 0n;
  for (const step of DDL) {
    await new Promise((r) => setTimeout(r, 600));
    for (const sql of step) await src.query(sql);
    // commit_position = binlog file number × 2^32 + offset (agent/sources/mysql/capture.ts)
    const [st] = await src.query('SHOW MASTER STATUS');
    const s = (st as { File: string; Position: number }[])[0];
    if (s !== undefined) lastDdl = (BigInt(Number(/\.(\d+)$/.exec(s.File)?.[1] ?? 0)) << 32n) + BigInt(s.Position);
  }
  await new Promise((r) => setTimeout(r, 1500));
  const transactions = await writer.stop();
  await writerConn.end();
  assert.ok(transactions > 50, `the writer kept writing through the DDL (${transactions} transactions)`);
  const sinks = await settle(h, await caughtUpFn(), dir);
  assert.ok(sinks.every((s) => !s.failing), `no sink is failing: ${JSON.stringify(sinks)}`);
  assert.equal(agent.exits, 0, 'the agent never stopped');

  const source = await sourceRows();
  const before = await readDestinations(h, 'shop_items', [...COLUMNS, ...KEPT], map);
  for (const [name, rows] of Object.entries(before)) {
    assert.deepEqual(differences(project(source, [0, 1]), project(rows, [0, 1])), [], `${name}: keys and writer counters equal the source`);
    assert.deepEqual(differences(source, rows, (d) => isLate(d, lastDdl)), [], `${name}: rows written after the last DDL equal the source in every column`);
    keptColumns(name, rows, lastDdl);
  }
  const extra = await h.dst.query<{ n: string }>('SELECT count(*)::text AS n FROM dest.shop_extra');
  assert.equal(extra.rows[0]?.n, '20');

  await src.query('UPDATE items SET tick = tick + 1');
  await settle(h, await caughtUpFn(), dir);
  const final = await readDestinations(h, 'shop_items', COLUMNS, map);
  const again = await sourceRows();
  for (const [name, rows] of Object.entries(final)) assert.deepEqual(differences(again, rows), [], `${name} equals the source`);

  // The hub was just restarted (to read DuckDB): wait for its API.
  const hist = await waitFor('the schema history', () => httpJson<{ versions: { diff: { typeChanged: { column: string; change: string }[] } }[] }>(h.httpPort, '/v1/schemas/agent-1/shop/shop/items'));
  assert.ok(hist.versions.length >= 7, `a version per change (${hist.versions.length})`);
  const changes = hist.versions.flatMap((v) => v.diff.typeChanged);
  assert.ok(changes.some((t) => t.column === 'price' && t.change === 'incompatible'), JSON.stringify(changes));
  assert.ok(changes.some((t) => t.column === 'qty' && t.change === 'widened'), JSON.stringify(changes));
  // Ingest published schema.changed / schema.incompatible for each new version: the alerts feed shows them.
  const alerts = await httpJson<{ alerts: { title: string; severity: string }[] }>(h.httpPort, '/v1/alerts?limit=500');
  const titles = alerts.alerts.map((a) => a.title);
  assert.ok(titles.includes('Incompatible schema change: shop.items'), JSON.stringify(titles));
  assert.ok(titles.includes('Schema changed: shop.extra'), `the new table is announced: ${JSON.stringify(titles)}`);
  assert.ok(titles.filter((t) => t === 'Schema changed: shop.items').length >= 6, JSON.stringify(titles));
});

function project(rows: Rows, cols: readonly number[]): Rows {
  return new Map([...rows].map(([k, r]) => [k, cols.map((i) => r[i] ?? null)]));
}

/** The row's source position is read last, after the kept columns. */
const isLate = (d: (string | null)[], after: bigint): boolean => BigInt(d[d.length - 1] ?? '0') > after;

/** Dropped (and retyped) columns are kept: NULL in every row written after the change, their old values in rows the writer never touched again. */
function keptColumns(sink: string, rows: Rows, lastDdl: bigint): void {
  const kept = (d: (string | null)[]) => d.slice(COLUMNS.length, COLUMNS.length + KEPT.length);
  const late = [...rows.values()].filter((d) => isLate(d, lastDdl));
  assert.ok(late.length >= 10, `${sink}: enough rows written after the last DDL to compare (${late.length})`);
  assert.deepEqual(late.filter((d) => kept(d).some((v) => v !== null)).map((d) => d[0]).slice(0, 5), [], `${sink}: kept columns are NULL in rows written after the drop`);
  assert.ok([...rows.values()].some((d) => kept(d)[0] !== null), `${sink}: the dropped column keeps its values in rows not written since`);
}
