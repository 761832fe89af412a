/**
 * kill -9 of the MySQL agent at random points while a writer runs against
 * MariaDB: afterwards the destination equals the source, and the hub log
 * holds every committed row change exactly once (the resume position is
 * stored with the events, so nothing is skipped or read twice).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { binlogStreaming, convergedRows, startMySqlE2E, type MySqlE2E } from './support/mysql-e2e.js';
import { apiFetch, waitFor } from './support/pipeline.js';
import { randomBetween } from './support/writer.js';

let e: MySqlE2E;
const KILLS = 10;

before(async () => {
  e = await startMySqlE2E({ name: 'mysql-crash', batchEvents: 200 });
  await e.src.query('CREATE TABLE churn (id int PRIMARY KEY, v bigint NOT NULL, note varchar(40))');
  e.hub.start();
  e.agent.start();
  await binlogStreaming(e);
  await waitFor("the hub's HTTP API", async () => (await ingested()) >= 0, 60_000);
});

after(async () => {
  await e?.close();
});

/** Small transactions of inserts, updates and deletes; counts row changes of committed transactions. */
function startWriter(c: mysql.Connection): { stop(): Promise<void>; committed(): number } {
  let running = true;
  let changes = 0;
  let seed = 4242;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const loop = (async () => {
    while (running) {
      await c.beginTransaction();
      let n = 0;
      for (let i = 0, k = 1 + rnd(5); i < k; i++) {
        const id = rnd(300);
        const op = rnd(10);
        const [r] =
          op < 5
            ? await c.query('INSERT INTO churn VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE v = v + 1, note = VALUES(note)', [id, `w${rnd(1e6)}`])
            : op < 8
              ? await c.query('UPDATE churn SET v = v + 1 WHERE id = ?', [id])
              : await c.query('DELETE FROM churn WHERE id = ?', [id]);
        // ON DUPLICATE KEY UPDATE reports 2 affected rows for an update: the binlog holds one row change.
        n += Math.min((r as { affectedRows: number }).affectedRows, 1);
      }
      await c.commit();
      changes += n;
      await new Promise((res) => setTimeout(res, 2));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
    committed: () => changes,
  };
}

async function ingested(): Promise<number> {
  const text = await (await apiFetch(e.httpPort, '/metrics')).text();
  const m = /tributary_hub_events_ingested_total\{source="agent-1\/shop"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

test(`kill -9 the agent ${KILLS} times under load: no change lost or applied twice`, async () => {
  const before = await ingested();
  const writer = startWriter(e.src);
  for (let i = 0; i < KILLS; i++) {
    await new Promise((r) => setTimeout(r, randomBetween(300, 1500)));
    await e.agent.kill9();
    await new Promise((r) => setTimeout(r, randomBetween(50, 400)));
    e.agent.start();
  }
  await writer.stop();
  await convergedRows(
    e,
    'SELECT CAST(id AS CHAR), CAST(v AS CHAR), note FROM churn ORDER BY id',
    'SELECT id::text, v::text, note FROM public.shop_churn x ORDER BY x.id',
  );
  const expected = before + writer.committed();
  const got = await waitFor('the log to hold every change', async () => ((await ingested()) >= expected ? ingested() : undefined), 60_000);
  assert.equal(got, expected, 'every committed row change reached the hub log exactly once');
  assert.ok(e.agent.exits >= KILLS);
});

test('kill -9 the agent while it spools one large transaction in pieces: applied once, whole', async () => {
  await e.src.query('CREATE TABLE bulk (id int PRIMARY KEY, payload varchar(40))');
  await e.src.query("INSERT INTO bulk VALUES (0, 'warm-up')");
  await convergedRows(e, 'SELECT CAST(id AS CHAR), payload FROM bulk ORDER BY id', 'SELECT id::text, payload FROM public.shop_bulk x ORDER BY x.id');
  const before = await ingested();
  await e.src.query('SET SESSION max_recursive_iterations = 100000');
  // 50k rows in one transaction: 250 spool batches of 200 events, invisible until the last.
  await e.src.query('INSERT INTO bulk WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50000) SELECT n, MD5(n) FROM g');
  await new Promise((r) => setTimeout(r, randomBetween(100, 400)));
  await e.agent.kill9();
  e.agent.start();
  await convergedRows(e, 'SELECT CAST(id AS CHAR), payload FROM bulk ORDER BY id', 'SELECT id::text, payload FROM public.shop_bulk x ORDER BY x.id');
  const got = await waitFor('the log to hold the transaction', async () => ((await ingested()) >= before + 50_000 ? ingested() : undefined), 60_000);
  assert.equal(got, before + 50_000, 'the transaction reached the log exactly once');
});

test('a MariaDB restart: the agent reconnects from its spooled position, nothing lost or doubled', async () => {
  const before = await ingested();
  await e.src.query("INSERT INTO churn VALUES (100001, 1, 'before restart')");
  await e.mdb.restart();
  const fresh = await e.mdb.connect('shop');
  try {
    await fresh.query("INSERT INTO churn VALUES (100002, 1, 'after restart')");
    await fresh.query('UPDATE churn SET v = v + 1 WHERE id = 100001');
  } finally {
    await fresh.end();
  }
  const c = await e.mdb.connect('shop');
  try {
    await convergedRows(
      { ...e, src: c },
      'SELECT CAST(id AS CHAR), CAST(v AS CHAR), note FROM churn ORDER BY id',
      'SELECT id::text, v::text, note FROM public.shop_churn x ORDER BY x.id',
    );
  } finally {
    await c.end();
  }
  const got = await waitFor('the log to hold the three changes', async () => ((await ingested()) >= before + 3 ? ingested() : undefined), 60_000);
  assert.equal(got, before + 3);
});
