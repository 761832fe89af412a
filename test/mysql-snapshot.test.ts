/**
 * Incremental snapshots of MariaDB tables beside the binlog stream (DBLog
 * watermarks), end to end into PostgreSQL: a writer inserts, updates and
 * deletes the very rows being chunked while the agent is killed with
 * SIGKILL mid-snapshot again and again. Afterwards the destination equals
 * the source row for row: every row read (op = READ) or streamed, no deleted
 * row back, no stale chunk row over a newer change. Both watermark modes:
 * read-only (consistent snapshot position, the default on MariaDB) and the
 * signal table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type mysql from 'mysql2/promise';
import { binlogStreaming, convergedRows, startMySqlE2E, type MySqlE2E } from './support/mysql-e2e.js';
import { apiFetch, waitFor, type ManagedProcess } from './support/pipeline.js';
import { randomBetween } from './support/writer.js';

const KILLS = 10;

/** Random inserts, updates and deletes on ids 1..maxId (the rows being chunked) in small transactions. */
function startWriter(c: mysql.Connection, table: string, maxId: number): { stop(): Promise<number> } {
  let running = true;
  let txs = 0;
  let seed = 977;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const loop = (async () => {
    while (running) {
      await c.beginTransaction();
      for (let i = 0, k = 1 + rnd(4); i < k; i++) {
        const id = 1 + rnd(maxId);
        const op = rnd(10);
        if (op < 3) await c.query(`INSERT INTO ${table} VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE v = v + 1, note = VALUES(note)`, [id, `i${rnd(1e6)}`]);
        else if (op < 7) await c.query(`UPDATE ${table} SET v = v + 1, note = ? WHERE id = ?`, [`u${rnd(1e6)}`, id]);
        else await c.query(`DELETE FROM ${table} WHERE id = ?`, [id]);
      }
      await c.commit();
      txs++;
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return txs;
    },
  };
}

async function fill(c: mysql.Connection, table: string, rows: number): Promise<void> {
  await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v bigint NOT NULL, note varchar(40))`);
  await c.query('SET SESSION max_recursive_iterations = 10000000');
  await c.query(`INSERT INTO ${table} WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ${rows}) SELECT n, n, CONCAT('row ', n) FROM g`);
}

const compare = (table: string): [string, string] => [
  `SELECT CAST(id AS CHAR), CAST(v AS CHAR), note FROM ${table} ORDER BY id`,
  `SELECT id::text, v::text, note FROM public.shop_${table} x ORDER BY x.id`,
];

/** Lines of the agent's log that report a snapshot start, with where it started. */
function snapshotStarts(agent: ManagedProcess, table: string): { from: unknown }[] {
  return readFileSync(agent.logPath, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"snapshot started"') && l.includes(`"shop.${table}"`))
    .map((l) => JSON.parse(l) as { from: unknown });
}

function snapshotDone(agent: ManagedProcess, table: string): boolean {
  return readFileSync(agent.logPath, 'utf8')
    .split('\n')
    .some((l) => l.includes('"snapshot ended"') && l.includes(`"shop.${table}"`) && l.includes('"state":"done"'));
}

describe('MariaDB incremental snapshots', { timeout: 900_000 }, () => {
  let e: MySqlE2E;

  before(async () => {
    e = await startMySqlE2E({ name: 'mysql-snapshot', batchEvents: 500 });
    e.hub.start();
  });

  after(async () => {
    await e?.close();
  });

  it(`read-only watermarks: a writer churns the rows being chunked, the agent is killed ${KILLS} times mid-snapshot`, async () => {
    // 200k rows (the larger table), throttled so that every kill lands mid-snapshot.
    const ROWS = 200_000;
    await fill(e.src, 'churn', ROWS);
    const agent = e.agentWith({ snapshot: { initial: true, chunkRows: 2000, maxRowsPerSecond: 8000 } }, 'agent-snap');
    let writer: ReturnType<typeof startWriter> | null = null;
    try {
      agent.start();
      await binlogStreaming(e);
      writer = startWriter(e.src, 'churn', ROWS + 500);
      for (let i = 0; i < KILLS; i++) {
        // Killed only once this run has resumed its snapshot, then after some chunks.
        const starts = i;
        await waitFor('the snapshot to run', () => snapshotStarts(agent, 'churn').length > starts, 60_000, 50);
        await new Promise((r) => setTimeout(r, randomBetween(300, 1200)));
        assert.ok(!snapshotDone(agent, 'churn'), `the snapshot is still running at kill ${i + 1}`);
        await agent.kill9();
        await new Promise((r) => setTimeout(r, randomBetween(50, 300)));
        agent.start();
      }
      await waitFor('the snapshot to finish', () => snapshotDone(agent, 'churn'), 300_000, 500);
      const txs = await writer.stop();
      assert.ok(txs > 100, `the writer committed ${txs} transactions during the snapshot`);
      const [my, pgq] = compare('churn');
      await convergedRows(e, my, pgq, 180_000);
      const resumed = snapshotStarts(agent, 'churn').filter((s) => s.from !== null);
      assert.ok(resumed.length >= KILLS - 1, `the snapshot resumed from a stored key after the restarts (${resumed.length} times)`);
    } finally {
      await writer?.stop().catch(() => 0);
      await agent.stop();
      agent.close();
    }
  });

  it('signal-table watermarks: churn and kills, then equal row for row; a re-backfill through the hub API', async () => {
    await e.mdb.exec('CREATE DATABASE tributary', 'CREATE TABLE tributary.signal (id varchar(64) PRIMARY KEY)', "GRANT INSERT, DELETE ON tributary.signal TO 'tributary'@'%'");
    await fill(e.src, 'sig', 20_000);
    // The same spool as the agent above (one source id per hub log), now with a signal table.
    const agent = e.agentWith({ snapshot: { initial: true, chunkRows: 500, maxRowsPerSecond: 5000, signalTable: 'tributary.signal' } }, 'agent-snap');
    let writer: ReturnType<typeof startWriter> | null = null;
    try {
      agent.start();
      writer = startWriter(e.src, 'sig', 20_500);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, randomBetween(800, 1500)));
        await agent.kill9();
        agent.start();
      }
      await waitFor('the snapshot to finish', () => snapshotDone(agent, 'sig'), 300_000, 500);
      await writer.stop();
      const [my, pgq] = compare('sig');
      await convergedRows(e, my, pgq, 180_000);
      const [left] = await e.src.query('SELECT COUNT(*) AS n FROM tributary.signal');
      assert.equal(Number((left as { n: unknown }[])[0]?.n), 0, 'every watermark row was deleted');

      // A re-backfill through the hub's API: snapshot.start relayed to the agent, progress back in GET /v1/snapshots.
      const ends = (): number => readFileSync(agent.logPath, 'utf8').split('\n').filter((l) => l.includes('"snapshot ended"') && l.includes('"shop.sig"')).length;
      const before = ends();
      await waitFor('the hub to relay snapshot.start', async () => {
        const r = await apiFetch(e.httpPort, '/v1/pipelines/main/snapshots', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ table: 'shop.sig' }) });
        return r.status === 202;
      });
      await waitFor('the re-backfill to finish', () => ends() > before, 120_000, 200);
      assert.equal(snapshotStarts(agent, 'sig').at(-1)?.from, null, 'a re-backfill starts from the first key');
      const [count] = await e.src.query('SELECT COUNT(*) AS n FROM sig');
      const progress = await waitFor('the hub to show the snapshot done', async () => {
        const body = (await (await apiFetch(e.httpPort, '/v1/snapshots')).json()) as { snapshots: { table: string; state: string; rowsDone: number }[] };
        const p = body.snapshots.find((x) => x.table === 'shop.sig');
        return p?.state === 'done' ? p : undefined;
      });
      assert.equal(progress.rowsDone, Number((count as { n: unknown }[])[0]?.n));
      await convergedRows(e, my, pgq, 60_000);
    } finally {
      await writer?.stop().catch(() => 0);
      await agent.stop();
      agent.close();
    }
  });
});
