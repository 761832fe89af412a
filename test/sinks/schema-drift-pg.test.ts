/**
 * Schema drift from a PostgreSQL source under load, through the real agent
 * and hub into PostgreSQL, DuckDB and Snowflake (emulated): while a writer
 * keeps inserting, updating and deleting, the source table is altered ten
 * ways (ADD COLUMN with and without default, DROP COLUMN, widening and
 * incompatible ALTER TYPE, RENAME COLUMN, CREATE and DROP TABLE, a DDL inside
 * a transaction with DML). The pipeline never stops; no change is lost
 * (every row's writer counter matches); widened and added columns (with
 * their default) match in every row; every row written after the last DDL
 * matches the source in every column through the documented policy; and once
 * every row has been written again, every destination equals the source.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { readDestinations, settle, startDriftHub, differences, type ColumnMap, type DriftHub, type Rows } from '../support/drift.js';
import { agentProcess, httpJson, tempDir, waitFor, type ManagedProcess } from '../support/pipeline.js';
import { startPostgres, type PgInstance } from '../support/postgres.js';

const slot = 'tributary_drift';
let pgi: PgInstance;
let src: pg.Pool;
let h: DriftHub;
let agent: ManagedProcess;
let dir: string;

before(async () => {
  dir = tempDir('drift-pg');
  pgi = await startPostgres({ walLevel: 'logical' });
  await pgi.createDatabase('src');
  src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 4 });
  src.on('error', () => undefined);
  await src.query('CREATE TABLE items (id int PRIMARY KEY, tick bigint NOT NULL DEFAULT 0, qty int, note varchar(10), price numeric(10,2), old text)');
  h = await startDriftHub(dir, 'agent-1', 'src');
  agent = agentProcess({ dir: join(dir, 'agent'), hubPort: h.grpcPort, sourcePort: pgi.port, sourceDatabase: 'src', agentId: 'agent-1', sourceId: 'src', slot, batchEvents: 200 });
  agent.start();
  await waitFor('the agent to stream', async () => (await src.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0]?.active === true);
  // Written once the slot exists (there is no initial snapshot here), in one transaction.
  await src.query(`INSERT INTO items SELECT g, 1, g, 'n' || g, g * 1.25, 'o' || g FROM generate_series(1, 400) g`);
});

after(async () => {
  await agent?.stop();
  agent?.close();
  await h?.close();
  await src?.end();
  await pgi?.stop();
});

/** Keys 1-300 (400 rows at the start: 301-400 are touched only by the DDL steps). Inserts, updates and deletes naming only columns that survive every DDL below; a statement that meets a DDL lock just waits. */
function startWriter(pool: pg.Pool): { stop(): Promise<number> } {
  let running = true;
  let committed = 0;
  let seed = 7;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const loop = (async () => {
    while (running) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        for (let i = 0, n = 1 + rnd(4); i < n; i++) {
          const id = 1 + rnd(300);
          const op = rnd(10);
          if (op < 4) await c.query(`INSERT INTO items (id, tick, qty, note, price) VALUES ($1, 1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET tick = items.tick + 1`, [id, `w${rnd(1000)}`, `${rnd(1000)}.50`]);
          else if (op < 9) await c.query('UPDATE items SET tick = tick + 1, qty = qty + 1 WHERE id = $1', [id]);
          else await c.query('DELETE FROM items WHERE id = $1', [id]);
        }
        await c.query('COMMIT');
        committed++;
      } catch {
        await c.query('ROLLBACK').catch(() => undefined);
      } finally {
        c.release();
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
  ['ALTER TABLE items ADD COLUMN a int', 'UPDATE items SET a = id WHERE id % 2 = 0'],
  [`ALTER TABLE items ADD COLUMN b text DEFAULT 'dflt'`],
  ['ALTER TABLE items DROP COLUMN old'],
  ['ALTER TABLE items ALTER COLUMN qty TYPE bigint'],
  ['ALTER TABLE items ALTER COLUMN note TYPE text'],
  ['ALTER TABLE items ALTER COLUMN price TYPE text USING price::text'],
  ['ALTER TABLE items RENAME COLUMN a TO a2', 'UPDATE items SET a2 = id * 10 WHERE id % 5 = 0'],
  ['CREATE TABLE extra (id int PRIMARY KEY, v text)', `INSERT INTO extra SELECT g, 'x' || g FROM generate_series(1, 20) g`],
  // A DDL inside a transaction, between DML: rows before it carry the old columns, rows after it the new.
  ['BEGIN', `UPDATE items SET tick = tick + 1 WHERE id <= 20`, 'ALTER TABLE items ADD COLUMN c int', 'UPDATE items SET c = id WHERE id <= 40', 'COMMIT'],
  ['DROP TABLE extra'],
];

/** The final source columns, and where each sink keeps them (README, "Schema drift"): an incompatible change lands in `<column>__<type>`. */
const COLUMNS = ['id', 'tick', 'qty', 'note', 'price', 'b', 'a2', 'c'];
/** Columns the source no longer has, kept at the destination (the incompatible change's original column included). */
const KEPT = ['old', 'price (original)', 'a'];
const map: ColumnMap = (sink, c) => {
  if (c === 'price') return { pg: 'price__text', duck: 'price__varchar', snow: 'PRICE__VARCHAR' }[sink];
  const name = c === 'price (original)' ? 'price' : c;
  return sink === 'snow' ? name.toUpperCase() : name;
};

async function sourceRows(): Promise<Rows> {
  const r = await src.query({ text: `SELECT ${COLUMNS.map((c) => `${c}::text`).join(', ')} FROM items`, rowMode: 'array' });
  return new Map((r.rows as (string | null)[][]).map((row) => [String(row[0]), row]));
}

/** The slot has confirmed everything written so far (the agent confirms only what its spool holds durably). */
const caughtUp = async (): Promise<boolean> =>
  (await src.query<{ ok: boolean }>('SELECT confirmed_flush_lsn >= pg_current_wal_insert_lsn() AS ok FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0]?.ok === true;

test('ten schema changes under a running writer: nothing stops, nothing is lost, every destination converges', async () => {
  const writer = startWriter(src);
  let lastDdl = 0n;
  for (const step of DDL) {
    await new Promise((r) => setTimeout(r, 600));
    const c = await src.connect();
    try {
      for (const sql of step) await c.query(sql);
    } finally {
      c.release();
    }
    const r = await src.query<{ lsn: string }>(`SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn`);
    lastDdl = BigInt(r.rows[0]?.lsn ?? '0');
  }
  await new Promise((r) => setTimeout(r, 1500));
  const transactions = await writer.stop();
  assert.ok(transactions > 50, `the writer kept writing through the DDL (${transactions} transactions)`);
  const sinks = await settle(h, caughtUp, dir);
  assert.ok(sinks.every((s) => !s.failing), `no sink is failing: ${JSON.stringify(sinks)}`);
  assert.equal(agent.exits, 0, 'the agent never stopped');

  // Before every row is rewritten: the same rows, the same writer counter (no change lost), and rows written after the last DDL equal in every column.
  const source = await sourceRows();
  const before = await readDestinations(h, 'items', [...COLUMNS, ...KEPT], map);
  for (const [name, rows] of Object.entries(before)) {
    assert.deepEqual(differences(project(source, [0, 1]), project(rows, [0, 1])), [], `${name}: keys and writer counters equal the source`);
    // In every row, also those not written since the DDL: a widened column keeps its values, a column added with a
    // default holds it (the version carries PostgreSQL's missing value), one added without holds NULL.
    const same = ['id', 'qty', 'note', 'b', 'c'].map((c) => COLUMNS.indexOf(c));
    assert.deepEqual(differences(project(source, same), project(rows, same)), [], `${name}: widened and added columns equal the source in every row`);
    const late = differences(source, rows, (d) => isLate(d, lastDdl));
    assert.deepEqual(late, [], `${name}: rows written after the last DDL equal the source in every column`);
    keptColumns(name, rows, lastDdl);
  }

  // The dropped table stays at the destination with what it held; its rows arrived with its columns.
  const extra = await h.dst.query<{ n: string }>('SELECT count(*)::text AS n FROM dest.extra');
  assert.equal(extra.rows[0]?.n, '20');

  // Values the source filled in by DDL alone are not in the log: once every row is written again, all columns match.
  await src.query('UPDATE items SET tick = tick');
  await settle(h, caughtUp, dir);
  const final = await readDestinations(h, 'items', COLUMNS, map);
  const again = await sourceRows();
  for (const [name, rows] of Object.entries(final)) assert.deepEqual(differences(again, rows), [], `${name} equals the source`);

  // The history is visible through the API, with the incompatible change classified.
  // The hub was just restarted (to read DuckDB): wait for its API.
  const hist = await waitFor('the schema history', () =>
    httpJson<{ versions: { version: number; diff: { typeChanged: { column: string; change: string }[]; added: { name: string }[]; dropped: { name: string }[] } }[] }>(h.httpPort, '/v1/schemas/agent-1/src/public/items'),
  );
  assert.ok(hist.versions.length >= 8, `a version per change (${hist.versions.length})`);
  const changes = hist.versions.flatMap((v) => v.diff.typeChanged);
  assert.ok(changes.some((t) => t.column === 'price' && t.change === 'incompatible'));
  assert.ok(changes.some((t) => t.column === 'qty' && t.change === 'widened'));
  assert.ok(hist.versions.some((v) => v.diff.dropped.some((c) => c.name === 'a') && v.diff.added.some((c) => c.name === 'a2')), 'the rename shows as drop + add');
  // Ingest published schema.changed / schema.incompatible for each new version: the alerts feed shows them.
  const alerts = await httpJson<{ alerts: { title: string; severity: string }[] }>(h.httpPort, '/v1/alerts?limit=500');
  const titles = alerts.alerts.map((a) => a.title);
  assert.ok(titles.includes('Incompatible schema change: public.items'), JSON.stringify(titles));
  assert.ok(titles.includes('Schema changed: public.extra'), `the new table is announced: ${JSON.stringify(titles)}`);
  assert.ok(titles.filter((t) => t === 'Schema changed: public.items').length >= 6, JSON.stringify(titles));
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
