/**
 * Pausing a pipeline on the Kafka log: the sink's consumer waits right
 * before the source's next message (heartbeating, so its group keeps the
 * partition) while the hub keeps ingesting; resume applies from there.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { fetchKafka, startKafka, type KafkaInstance } from '../support/kafka.js';
import { kafkaHubProcess } from '../support/kafka-pipeline.js';
import { agentProcess, apiFetch, freePort, tempDir, waitFor, type ManagedProcess } from '../support/pipeline.js';
import { startPostgres, type PgInstance } from '../support/postgres.js';

let kafka: KafkaInstance;
let pgi: PgInstance;
let src: pg.Pool;
let dst: pg.Pool;
let hub: ManagedProcess;
let agent: ManagedProcess;
let httpPort: number;

const count = async (): Promise<number> => Number((await dst.query<{ n: string }>('SELECT count(*)::text AS n FROM t').catch(() => ({ rows: [{ n: '-1' }] }))).rows[0]?.n);
const pipeline = async (): Promise<{ state: string; ingest: { logOffset: number }; sinks: Array<{ offset: number }> }> =>
  ((await (await apiFetch(httpPort, '/v1/pipelines/main')).json()) as { pipeline: { state: string; ingest: { logOffset: number }; sinks: Array<{ offset: number }> } }).pipeline;

before(async () => {
  fetchKafka();
  [kafka, pgi] = await Promise.all([startKafka(), startPostgres({ walLevel: 'logical' })]);
  await pgi.createDatabase('src');
  await pgi.createDatabase('dst');
  src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 2 });
  dst = new pg.Pool({ connectionString: pgi.connectionString('dst'), max: 2 });
  src.on('error', () => undefined);
  dst.on('error', () => undefined);
  await src.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
  const dir = tempDir('kafka-pause');
  const grpcPort = await freePort();
  httpPort = await freePort();
  hub = kafkaHubProcess({ dir: join(dir, 'hub'), hubId: 'hub-p', grpcPort, httpPort, bootstrap: kafka.bootstrap, topicPrefix: 'tp', agentId: 'agent-1', sourceId: 'src', sink: { port: pgi.port, database: 'dst' } });
  agent = agentProcess({ dir: join(dir, 'agent'), hubPort: grpcPort, sourcePort: pgi.port, sourceDatabase: 'src', agentId: 'agent-1', sourceId: 'src', slot: 'tributary_kpause' });
  hub.start();
  agent.start();
  await waitFor('the agent to stream', async () => (await src.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'tributary_kpause'")).rows[0]?.active === true, 90_000);
});

after(async () => {
  await agent?.stop();
  await hub?.stop();
  agent?.close();
  hub?.close();
  await src?.end();
  await dst?.end();
  await pgi?.stop();
  await kafka?.stop();
});

test('pause holds the Kafka-fed sink before the source\'s next message; resume continues there', async () => {
  await src.query("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 20) g");
  await waitFor('rows before the pause', async () => (await count()) === 20, 120_000, 250);
  assert.equal((await apiFetch(httpPort, '/v1/pipelines/main/pause', { method: 'POST' })).status, 200);
  await src.query("INSERT INTO t SELECT g, 'paused' FROM generate_series(21, 50) g");
  await waitFor('the hub to ingest past the paused sink', async () => {
    const p = await pipeline();
    return p.ingest.logOffset > (p.sinks[0]?.offset ?? 0);
  }, 60_000, 250);
  // Longer than the consumer's session timeout (10 s): the held consumer must keep its partition.
  await new Promise((r) => setTimeout(r, 12_000));
  assert.equal(await count(), 20);
  assert.equal((await apiFetch(httpPort, '/v1/pipelines/main/resume', { method: 'POST' })).status, 200);
  await src.query("INSERT INTO t VALUES (51, 'after')");
  await waitFor('every row after resume', async () => (await count()) === 51, 120_000, 250);
  assert.equal((await pipeline()).state, 'active');
});
