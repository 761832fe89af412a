/**
 * kill -9 of the agent, then of the hub, at random points while a writer
 * runs: afterwards the destination equals the source, and the hub log holds
 * every committed change exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { converged, streaming, startE2E, type E2E } from './support/e2e.js';
import { waitFor } from './support/pipeline.js';
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
  const text = await (await fetch(`http://127.0.0.1:${e.httpPort}/metrics`)).text();
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
