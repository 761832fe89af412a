/**
 * kill -9 of the agent, then of the hub, at random points while a writer
 * runs: afterwards the destination equals the source, and the hub log holds
 * every committed change exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { converged, streaming, startE2E, type E2E } from './support/e2e.js';
import { apiFetch, waitFor } from './support/pipeline.js';
import { WRITER_COLUMNS, WRITER_TABLE, randomBetween, startWriter } from './support/writer.js';

let e: E2E;
const KILLS = 10;

before(async () => {
  e = await startE2E({ name: 'crash', batchEvents: 200 });
  await e.src.query(WRITER_TABLE);
  e.hub.start();
  e.agent.start();
  await streaming(e);
});

after(async () => {
  await e?.close();
});

async function ingested(): Promise<number> {
  const text = await (await apiFetch(e.httpPort, '/metrics')).text();
  const m = /tributary_hub_events_ingested_total\{source="agent-1\/src"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

test(`kill -9 the agent ${KILLS} times under load: no change lost or applied twice`, async () => {
  const writer = startWriter(e.src, { pauseMs: 2 });
  for (let i = 0; i < KILLS; i++) {
    await new Promise((r) => setTimeout(r, randomBetween(300, 1500)));
    await e.agent.kill9();
    await new Promise((r) => setTimeout(r, randomBetween(50, 400)));
    e.agent.start();
  }
  await writer.stop();
  await converged(e, 'churn', WRITER_COLUMNS);
  // The hub ran throughout, so its counter covers the whole run: each committed
  // row change reached the log exactly once despite the agent's crashes.
  const expected = writer.committedChanges();
  const got = await waitFor('log to hold every change', async () => ((await ingested()) >= expected ? ingested() : undefined), 60_000);
  assert.equal(got, expected);
});

test(`kill -9 the hub ${KILLS} times under load: the destination equals the source`, async () => {
  const writer = startWriter(e.src, { pauseMs: 2 });
  for (let i = 0; i < KILLS; i++) {
    await new Promise((r) => setTimeout(r, randomBetween(300, 1500)));
    await e.hub.kill9();
    await new Promise((r) => setTimeout(r, randomBetween(50, 600)));
    e.hub.start();
  }
  await writer.stop();
  await converged(e, 'churn', WRITER_COLUMNS);
});

test('kill -9 the agent while it spools one large transaction in pieces: applied once, whole', async () => {
  await e.src.query('CREATE TABLE bulk (id int PRIMARY KEY, payload text)');
  await e.src.query("INSERT INTO bulk VALUES (0, 'warm-up')");
  await converged(e, 'bulk', ['id', 'payload']);
  const before = await ingested();
  // 100k rows in one transaction: 500 spool batches of 200 events, invisible until the last.
  await e.src.query("INSERT INTO bulk SELECT g, md5(g::text) FROM generate_series(1, 100000) g");
  await waitFor('the agent to start spooling the transaction', async () => {
    const r = await e.src.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [e.slot]);
    return r.rows[0]?.active;
  });
  await new Promise((r) => setTimeout(r, randomBetween(200, 600)));
  await e.agent.kill9();
  e.agent.start();
  await converged(e, 'bulk', ['id', 'payload']);
  const got = await waitFor('the log to hold the transaction', async () => ((await ingested()) >= before + 100_000 ? ingested() : undefined), 60_000);
  assert.equal(got, before + 100_000, 'the transaction reached the log exactly once');
});

test('kill -9 PostgreSQL: the agent reconnects and no change is lost or applied twice', async () => {
  const before = await ingested();
  let changes = 0;
  for (let i = 0; i < 30; i++) {
    const r = await e.src.query('UPDATE churn SET v = v + 1 WHERE id % 30 = $1', [i]);
    changes += r.rowCount ?? 0;
  }
  // A transaction the server resends after its crash recovery is dropped by the
  // agent (capture.test.ts proves the rule itself); here the count must stay exact.
  await waitFor('the log to hold the updates', async () => (await ingested()) >= before + changes, 60_000);
  await e.pgi.kill9();
  await e.pgi.restart();
  await converged(e, 'churn', WRITER_COLUMNS);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await ingested(), before + changes, 'no resent transaction reached the log twice');
});
