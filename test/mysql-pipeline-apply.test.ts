/**
 * `pipeline.apply` on a MySQL source, end to end: a pipeline created through
 * the API names tables of the source; the running agent restarts its
 * binlog session with the new filters (same process) and changes of the
 * added table arrive, while a table outside the set never does.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { binlogStreaming, startMySqlE2E, type MySqlE2E } from './support/mysql-e2e.js';
import { apiFetch, waitFor } from './support/pipeline.js';

let e: MySqlE2E;

async function count(table: string): Promise<number> {
  const r = await e.dst.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`).catch(() => ({ rows: [{ n: '-1' }] }));
  return Number(r.rows[0]?.n);
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await apiFetch(e.httpPort, path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

before(async () => {
  e = await startMySqlE2E({ name: 'mysql-apply' });
  await e.src.query('CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))');
  await e.src.query('CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(20))');
  await e.src.query('CREATE TABLE c (id INT PRIMARY KEY, v VARCHAR(20))');
  e.hub.start();
  e.agent.start();
  await binlogStreaming(e);
  await waitFor('the hub API', async () => (await api('GET', '/v1/pipelines')).status === 200, 60_000, 250);
});

after(async () => {
  await e?.close();
});

test('tables pushed through the API are applied by the running MySQL agent', async () => {
  const pid = e.agent.pid;
  // The configuration's pipeline "main" names no tables; this one does.
  const created = await api('POST', '/v1/pipelines', { name: 'tables', agent: 'agent-1', source: 'shop', sinks: ['dest'], tables: ['shop.a'] });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const appliedSet = async (tables: string[]): Promise<void> => {
    await waitFor(`the agent to apply ${tables.join(', ')}`, async () => {
      const p = (await api('GET', '/v1/pipelines/tables')).json['pipeline'] as { agentTables: { status: string; tables: string[]; result: { mode: string } | null; error: string | null } | null };
      if (p.agentTables?.status === 'failed') throw new Error(p.agentTables.error ?? 'failed');
      return p.agentTables?.status === 'applied' && JSON.stringify(p.agentTables.tables) === JSON.stringify(tables) && p.agentTables.result?.mode === 'filter';
    }, 60_000, 200);
  };
  await appliedSet(['shop.a']);
  await e.src.query("INSERT INTO a VALUES (1, 'a1'), (2, 'a2')");
  await e.src.query("INSERT INTO b VALUES (1, 'b before')");
  await waitFor('rows of a', async () => (await count('shop_a')) === 2, 120_000, 250);
  assert.equal(await count('shop_b'), -1, 'b is outside the set');

  assert.equal((await api('PATCH', '/v1/pipelines/tables', { tables: ['shop.a', 'shop.b'] })).status, 200);
  await appliedSet(['shop.a', 'shop.b']);
  await e.src.query("INSERT INTO b VALUES (2, 'b after'), (3, 'b after')");
  await e.src.query("INSERT INTO c VALUES (1, 'never')");
  await e.src.query("INSERT INTO a VALUES (3, 'a3')");
  await waitFor('rows of b and a', async () => (await count('shop_b')) === 2 && (await count('shop_a')) === 3, 120_000, 250);
  assert.equal(await count('shop_c'), -1, 'c was never in the set');
  assert.equal(e.agent.pid, pid, 'the agent process was not restarted');
  assert.equal(e.agent.exits, 0);
});
