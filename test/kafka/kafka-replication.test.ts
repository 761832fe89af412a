/**
 * A three-broker KRaft cluster (replication factor 3, min.insync.replicas 2;
 * transactional writes are acks=all): kill -9 of the broker leading the
 * ingest partition while the hub ingests loses and duplicates nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { tableText } from '../support/e2e.js';
import { fetchKafka, startKafka, type KafkaInstance } from '../support/kafka.js';
import { assertChurnExactlyOnce, assertIngestDense } from '../support/kafka-check.js';
import { kafkaHubProcess } from '../support/kafka-pipeline.js';
import { agentProcess, freePort, tempDir, waitFor, type ManagedProcess } from '../support/pipeline.js';
import { startPostgres, type PgInstance } from '../support/postgres.js';
import { WRITER_COLUMNS, WRITER_TABLE, startWriter } from '../support/writer.js';

const PREFIX = 'tr';
let kafka: KafkaInstance;
let pgi: PgInstance;
let src: pg.Pool;
let dst: pg.Pool;
let hub: ManagedProcess;
let agent: ManagedProcess;
let dir: string;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  fetchKafka();
  [kafka, pgi] = await Promise.all([startKafka({ brokers: 3 }), startPostgres({ walLevel: 'logical' })]);
  await pgi.createDatabase('src');
  await pgi.createDatabase('dst');
  src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 4 });
  dst = new pg.Pool({ connectionString: pgi.connectionString('dst'), max: 2 });
  src.on('error', () => undefined);
  dst.on('error', () => undefined);
  await src.query(WRITER_TABLE);
  dir = tempDir('kafka-replication');
  const grpcPort = await freePort();
  hub = kafkaHubProcess({ dir: join(dir, 'hub'), hubId: 'hub-r', grpcPort, httpPort: await freePort(), bootstrap: kafka.bootstrap, topicPrefix: PREFIX, agentId: 'agent-1', sourceId: 'src', sink: { port: pgi.port, database: 'dst' } });
  agent = agentProcess({ dir: join(dir, 'agent'), hubPort: grpcPort, sourcePort: pgi.port, sourceDatabase: 'src', agentId: 'agent-1', sourceId: 'src', slot: 'tributary_kafka3', batchEvents: 200 });
  hub.start();
  agent.start();
  await waitFor(
    'the agent to stream from its slot',
    async () => (await src.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'tributary_kafka3'")).rows[0]?.active === true,
    90_000,
  );
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

/** The 0-based index of the broker leading partition 0 of the ingest topic. */
async function ingestLeader(): Promise<number> {
  const admin = new Kafka({ clientId: 'test-admin', brokers: kafka.bootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [`${PREFIX}.ingest`] });
    const p = meta.topics[0]?.partitions[0];
    assert.ok(p !== undefined, 'the ingest topic exists');
    assert.equal(p.replicas.length, 3, 'the ingest topic has three replicas');
    return p.leader - 1;
  } finally {
    await admin.disconnect();
  }
}

test('kill -9 of the broker leading the ingest partition, mid-stream: nothing lost or duplicated', async () => {
  const writer = startWriter(src, { pauseMs: 10 });
  await waitFor('the first changes in Kafka', async () => (await tableText(dst, 'churn', ['id'])).length > 0, 90_000, 500);
  const leader = await ingestLeader();
  await sleep(1000);
  await kafka.killBroker(leader);
  await sleep(6000);
  await writer.stop();
  const committed = writer.committedChanges();
  assert.ok(committed > 300, `the writer committed ${committed} changes`);
  await waitFor(
    'the destination to equal the source',
    async () => JSON.stringify(await tableText(src, 'churn', WRITER_COLUMNS)) === JSON.stringify(await tableText(dst, 'churn', WRITER_COLUMNS)),
    120_000,
    500,
  );
  await assertChurnExactlyOnce(kafka.bootstrap, PREFIX, src, committed);
  const batches = await assertIngestDense(kafka.bootstrap, PREFIX, 'agent-1/src');
  assert.ok(batches > 0);
  assert.notEqual(await ingestLeader(), leader, 'another broker leads the ingest partition');
});
