/**
 * End to end through the real processes: every common PostgreSQL type
 * round-trips value by value; updates, deletes, truncate; and an update of
 * another column never wipes an unchanged TOAST value.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { converged, streaming, startE2E, tableText, type E2E } from './support/e2e.js';
import { apiFetch, waitFor } from './support/pipeline.js';
import { COLUMNS, DDL, ROWS } from './support/pg-type-corpus.js';

let e: E2E;

before(async () => {
  e = await startE2E({ name: 'types' });
  await e.src.query(DDL);
  e.hub.start();
  e.agent.start();
  await streaming(e);
});

after(async () => {
  await e?.close();
});

test('every common type round-trips value by value', async () => {
  await e.src.query(ROWS);
  await converged(e, 'all_types', COLUMNS);
  const rows = await tableText(e.dst, 'all_types', COLUMNS);
  assert.equal(rows.length, 4);
  // Spot checks that would hide behind a lossy conversion on both sides.
  assert.equal(rows[0]?.[3], '9223372036854775807');
  assert.equal(rows[1]?.[3], '-9223372036854775808');
  assert.equal(rows[0]?.[4], '12345678901234567890.0123456789');
  assert.equal(rows[1]?.[9], 'emoji 🦀 and ünïcödé');
  assert.equal(rows[3]?.[9], null);
  assert.equal(rows[1]?.[10], '');
});

test('updates, deletes and truncate apply', async () => {
  await e.src.query("UPDATE all_types SET c_text = 'changed', c_int4 = c_int4 / 2 WHERE id IN (1, 2)");
  await e.src.query('DELETE FROM all_types WHERE id = 3');
  await e.src.query("UPDATE all_types SET id = 40 WHERE id = 4");
  await converged(e, 'all_types', COLUMNS);
  await e.src.query('TRUNCATE all_types');
  await e.src.query("INSERT INTO all_types (id, c_text) VALUES (7, 'after truncate')");
  await converged(e, 'all_types', COLUMNS);
  const rows = await tableText(e.dst, 'all_types', ['id', 'c_text']);
  assert.deepEqual(rows, [['7', 'after truncate']]);
});

test('an unchanged TOAST value survives an update of another column', async () => {
  await e.src.query('CREATE TABLE docs (id int PRIMARY KEY, body text, n int)');
  await e.src.query('ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL');
  // Random text does not compress, so it is stored out of line (TOAST).
  await e.src.query("INSERT INTO docs SELECT 1, string_agg(md5(random()::text), '') FROM generate_series(1, 2000)");
  await converged(e, 'docs', ['id', 'body', 'n']);
  await e.src.query('UPDATE docs SET n = 42 WHERE id = 1');
  await converged(e, 'docs', ['id', 'body', 'n']);
  const r = await e.dst.query<{ len: number; n: number }>('SELECT length(body) AS len, n FROM docs WHERE id = 1');
  assert.equal(r.rows[0]?.len, 64_000);
  assert.equal(r.rows[0]?.n, 42);
});

test('the API reports the agent and the pipeline', async () => {
  const res = await waitFor('agent listed', async () => {
    const r = await apiFetch(e.httpPort, '/v1/agents');
    const body = (await r.json()) as { agents: { agentId: string; connected: boolean }[] };
    return body.agents.find((a) => a.agentId === 'agent-1' && a.connected);
  });
  assert.equal(res.connected, true);
  const p = (await (await apiFetch(e.httpPort, '/v1/pipelines')).json()) as { pipelines: { name: string; sinks: { name: string; offset: number }[] }[] };
  assert.equal(p.pipelines[0]?.name, 'main');
  assert.ok((p.pipelines[0]?.sinks[0]?.offset ?? 0) > 0);
  const metrics = await (await apiFetch(e.httpPort, '/metrics')).text();
  assert.match(metrics, /tributary_hub_events_ingested_total\{source="agent-1\/src"\} \d+/);
});

test('a type created while the agent runs (a new enum) is picked up without stopping it', async () => {
  await e.src.query("CREATE TYPE size AS ENUM ('s', 'm', 'l')");
  await e.src.query('CREATE TABLE shirts (id int PRIMARY KEY, sz size, szs size[])');
  await e.src.query("INSERT INTO shirts VALUES (1, 'm', '{s,l}'), (2, NULL, '{}')");
  await converged(e, 'shirts', ['id', 'sz', 'szs']);
  assert.equal(e.agent.running, true, 'the agent reconnected to reload its type catalog; it did not exit');
});
