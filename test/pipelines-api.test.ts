/**
 * Pipelines managed through the hub's HTTP API, end to end with a private
 * PostgreSQL and the real hub and agent processes: a pipeline created through
 * the API lands rows in its sink; changing its tables is applied by the
 * running agent (the publication's membership changes, the process is the
 * same); pause holds the sink right before the source's next change and
 * resume continues there; the pipeline survives a hub restart.
 */
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startPostgres, type PgInstance } from './support/postgres.js';
import { agentProcess, apiFetch, freePort, ManagedProcess, tempDir, TEST_ADMIN_TOKEN, waitFor } from './support/pipeline.js';

interface PipelineBody {
  pipeline: { name: string; state: string; tables: string[] | null; agentTables: { status: string; tables: string[]; result: { mode?: string } | null; error: string | null } | null };
}

let pgi: PgInstance;
let src: pg.Pool;
let dst: pg.Pool;
let hub: ManagedProcess;
let agent: ManagedProcess;
let httpPort: number;
let dir: string;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const r = await apiFetch(httpPort, path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return { status: r.status, json: await r.json() };
}

async function count(pool: pg.Pool, table: string): Promise<number> {
  const r = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`).catch(() => ({ rows: [{ n: '-1' }] }));
  return Number(r.rows[0]?.n);
}

async function applied(tables: string[]): Promise<PipelineBody['pipeline']> {
  return waitFor(`the agent to apply ${tables.join(', ')}`, async () => {
    const p = ((await api('GET', '/v1/pipelines/shop')).json as PipelineBody).pipeline;
    if (p.agentTables?.status === 'failed') throw new Error(`the agent refused: ${p.agentTables.error}`);
    return p.agentTables?.status === 'applied' && JSON.stringify(p.agentTables.tables) === JSON.stringify(tables) ? p : undefined;
  }, 60_000, 200);
}

async function publicationTables(): Promise<string[]> {
  const r = await src.query<{ t: string }>("SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = 'tributary_api' ORDER BY 1");
  return r.rows.map((x) => x.t);
}

before(async () => {
  pgi = await startPostgres({ walLevel: 'logical' });
  await pgi.createDatabase('src');
  await pgi.createDatabase('dst');
  src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 2 });
  dst = new pg.Pool({ connectionString: pgi.connectionString('dst'), max: 2 });
  // Idle connections end when the server stops at the end.
  src.on('error', () => undefined);
  dst.on('error', () => undefined);
  await src.query('CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text); CREATE TABLE c (id int PRIMARY KEY, v text)');
  dir = tempDir('pipelines-api');
  const grpcPort = await freePort();
  httpPort = await freePort();
  mkdirSync(join(dir, 'hub'), { recursive: true });
  // A hub with a sink and no pipeline: everything below comes through the API.
  const hubConfig = {
    hubId: 'api-hub',
    grpc: { listen: `127.0.0.1:${grpcPort}` },
    http: { listen: `127.0.0.1:${httpPort}` },
    log: { kind: 'embedded', path: join(dir, 'hub', 'log') },
    sinks: [{ name: 'dest', kind: 'postgres', host: '127.0.0.1', port: pgi.port, database: 'dst', user: 'postgres', schema: 'public' }],
    security: { plaintext: true, adminTokens: [{ workspace: 'default', token: TEST_ADMIN_TOKEN }] },
    logLevel: 'info',
  };
  writeFileSync(join(dir, 'hub', 'hub.json'), JSON.stringify(hubConfig));
  hub = new ManagedProcess('hub', ['hub', '--config', join(dir, 'hub', 'hub.json')], join(dir, 'hub', 'hub.log'));
  agent = agentProcess({ dir: join(dir, 'agent'), hubPort: grpcPort, sourcePort: pgi.port, sourceDatabase: 'src', agentId: 'agent-1', sourceId: 'src', slot: 'tributary_api', source: { tables: ['public.c'] } });
  hub.start();
  agent.start();
  await waitFor('the hub API', async () => (await api('GET', '/v1/pipelines')).status === 200, 60_000, 250);
  await waitFor('the agent to stream', async () => (await src.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'tributary_api'")).rows[0]?.active === true, 60_000, 200);
});

after(async () => {
  await agent?.stop();
  await hub?.stop();
  agent?.close();
  hub?.close();
  await src?.end();
  await dst?.end();
  await pgi?.stop();
});

test('a pipeline created through the API lands rows; its tables change in the running agent', async () => {
  assert.deepEqual(await publicationTables(), ['public.c']);
  const created = await api('POST', '/v1/pipelines', { name: 'shop', agent: 'agent-1', source: 'src', sinks: ['dest'], tables: ['public.a'] });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const agentPid = agent.pid;
  const first = await applied(['public.a']);
  assert.equal(first.agentTables?.result?.mode, 'publication');
  assert.deepEqual(await publicationTables(), ['public.a']);

  await src.query("INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 50) g");
  await src.query("INSERT INTO c VALUES (1, 'not in the pipeline')");
  await waitFor('rows of a in the sink', async () => (await count(dst, 'a')) === 50, 120_000, 250);

  const changed = await api('PATCH', '/v1/pipelines/shop', { tables: ['public.a', 'public.b'] });
  assert.equal(changed.status, 200, JSON.stringify(changed.json));
  await applied(['public.a', 'public.b']);
  assert.deepEqual(await publicationTables(), ['public.a', 'public.b']);
  await src.query("INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 30) g; UPDATE a SET v = 'changed' WHERE id <= 10");
  await waitFor('rows of b in the sink', async () => (await count(dst, 'b')) === 30, 120_000, 250);
  await waitFor('updates of a in the sink', async () => (await dst.query("SELECT count(*)::int AS n FROM a WHERE v = 'changed'")).rows[0]?.n === 10, 60_000, 250);
  assert.equal(agent.pid, agentPid, 'the agent was not restarted');
  assert.equal(agent.exits, 0);
  // c was never part of the pipeline
  assert.equal(await count(dst, 'c'), -1);
});

test('pause holds the sink before the source\'s next change; resume continues there', async () => {
  const paused = await api('POST', '/v1/pipelines/shop/pause');
  assert.equal((paused.json as PipelineBody).pipeline.state, 'paused');
  await src.query("INSERT INTO a SELECT g, 'paused' FROM generate_series(1001, 1040) g; DELETE FROM b WHERE id <= 5");
  // The changes reach the hub's log (the agent keeps capturing), but the sink does not apply them.
  await waitFor('the hub to ingest the changes made while paused', async () => {
    const r = (await api('GET', '/v1/pipelines/shop')).json as { pipeline: { ingest: { logOffset: number }; sinks: Array<{ offset: number }> } };
    return r.pipeline.ingest.logOffset > (r.pipeline.sinks[0]?.offset ?? 0);
  }, 60_000, 250);
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal(await count(dst, 'a'), 50);
  assert.equal(await count(dst, 'b'), 30);
  const resumed = await api('POST', '/v1/pipelines/shop/resume');
  assert.equal((resumed.json as PipelineBody).pipeline.state, 'active');
  await waitFor('the changes made while paused', async () => (await count(dst, 'a')) === 90 && (await count(dst, 'b')) === 25, 120_000, 250);
});

test('the pipeline survives a hub restart and is pushed again; removing a table stops it', async () => {
  await hub.stop();
  hub.start();
  await waitFor('the hub API', async () => (await api('GET', '/v1/pipelines/shop')).status === 200, 60_000, 250);
  const p = await applied(['public.a', 'public.b']);
  assert.equal(p.state, 'active');
  await api('PATCH', '/v1/pipelines/shop', { tables: ['public.a'] });
  await applied(['public.a']);
  assert.deepEqual(await publicationTables(), ['public.a']);
  await src.query("INSERT INTO b VALUES (500, 'after removal'); INSERT INTO a VALUES (500, 'marker')");
  await waitFor('the marker row', async () => (await count(dst, 'a')) === 91, 120_000, 250);
  assert.equal(await count(dst, 'b'), 25, 'a removed table is no longer captured');
  const del = await api('DELETE', '/v1/pipelines/shop');
  assert.equal(del.status, 200);
  await src.query("INSERT INTO a VALUES (501, 'after delete')");
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal(await count(dst, 'a'), 91, 'a deleted pipeline lands nothing');
});
