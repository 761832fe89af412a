/**
 * `npm run bench:kafka`: the hub on a Kafka log (single-node KRaft broker,
 * everything on this machine).
 *
 *   throughput: BENCH_ROWS rows (default 200000, transactions of 10k) written
 *     while the agent is stopped, then drained: rows/s from the agent's start
 *     until every row is committed in Kafka (ingest topic + Debezium envelopes
 *     + checkpoint, one transaction per batch).
 *   ceiling: Kafka's own ProducerPerformance in the same run, same record
 *     count and the envelopes' mean size, acks=all: plain (idempotent) and
 *     transactional.
 *   latency: a steady 5k rows/s for 20 s; source commit time → the envelope
 *     received by a read_committed consumer of the table topic.
 */
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { fetchKafka, startKafka } from '../test/support/kafka.js';
import { kafkaHubProcess, readTopic } from '../test/support/kafka-pipeline.js';
import { agentProcess, apiFetch, freePort, tempDir, waitFor } from '../test/support/pipeline.js';
import { startPostgres } from '../test/support/postgres.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 200_000);
const TX = 10_000;
const RATE = Number(process.env['BENCH_RATE'] ?? 5_000);
const SECONDS = 20;
const PREFIX = 'bench';

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const nowUs = (): number => (performance.timeOrigin + performance.now()) * 1000;

fetchKafka();
const [kafka, pgi] = await Promise.all([startKafka(), startPostgres({ walLevel: 'logical' })]);
const dir = tempDir('kafka-bench');
const grpcPort = await freePort();
const httpPort = await freePort();
const hub = kafkaHubProcess({ dir: join(dir, 'hub'), hubId: 'hub-bench', grpcPort, httpPort, bootstrap: kafka.bootstrap, topicPrefix: PREFIX, agentId: 'agent-1', sourceId: 'src' });
await pgi.createDatabase('src');
const agent = agentProcess({ dir: join(dir, 'agent'), hubPort: grpcPort, sourcePort: pgi.port, sourceDatabase: 'src', agentId: 'agent-1', sourceId: 'src', slot: 'tributary_bench', batchEvents: 2000 });
const src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 4 });
src.on('error', () => undefined);

async function ingested(): Promise<number> {
  const r = await apiFetch(httpPort, '/metrics').catch(() => undefined);
  if (r === undefined) return 0;
  const text = await r.text();
  return Number(/tributary_hub_events_ingested_total\{source="agent-1\/src"\} (\d+)/.exec(text)?.[1] ?? 0);
}

async function throughput(): Promise<number> {
  await agent.stop();
  for (let a = 1; a <= ROWS; a += TX) {
    await src.query(`INSERT INTO rows SELECT g, g % 1000, 'row-' || g, now() FROM generate_series(${a}, ${Math.min(ROWS, a + TX - 1)}) g`);
  }
  const before = await ingested();
  const t0 = performance.now();
  agent.start();
  await waitFor('every row committed in Kafka', async () => (await ingested()) - before >= ROWS, 1_200_000, 50);
  const rate = ROWS / ((performance.now() - t0) / 1000);
  const records = await readTopic(kafka.bootstrap, `${PREFIX}.src.public.rows`, 300_000);
  const size = Math.round(records.reduce((n, r) => n + (r.value?.length ?? 0) + (r.key?.length ?? 0), 0) / records.length);
  log(`throughput: ${ROWS} rows in ${ROWS / TX} source transactions (${records.length} envelopes in the topic, mean key+value ${size} bytes)`);
  log(`  agent → hub → Kafka (committed)        ${rate.toFixed(0).padStart(8)} rows/s`);
  return size;
}

async function producerPerformance(size: number): Promise<void> {
  const common = ['--num-records', String(ROWS), '--record-size', String(size), '--throughput', '-1'];
  const props = ['--producer-props', `bootstrap.servers=${kafka.bootstrap}`, 'acks=all', 'linger.ms=5'];
  const rate = (out: string): string => /([\d.]+) records\/sec/.exec(out.trim().split('\n').pop() ?? '')?.[1] ?? '?';
  const plain = await kafka.runTool('org.apache.kafka.tools.ProducerPerformance', ['--topic', `${PREFIX}.perf`, ...common, ...props]);
  log(`  ProducerPerformance, acks=all          ${Number(rate(plain)).toFixed(0).padStart(8)} records/s   (transport ceiling, same run)`);
  const txn = await kafka.runTool('org.apache.kafka.tools.ProducerPerformance', ['--topic', `${PREFIX}.perf-tx`, ...common, '--transactional-id', 'bench-perf', '--transaction-duration-ms', '100', ...props]);
  log(`  ProducerPerformance, transactions/100ms ${Number(rate(txn)).toFixed(0).padStart(7)} records/s`);
}

async function latency(): Promise<void> {
  const consumer = new Kafka({ clientId: 'bench', brokers: kafka.bootstrap.split(','), logLevel: logLevel.NOTHING }).consumer({ groupId: 'bench-latency', readUncommitted: false, maxWaitTimeInMs: 20 });
  const lat: number[] = [];
  await src.query('CREATE TABLE latency (id bigserial PRIMARY KEY, v int)');
  await src.query('INSERT INTO latency (v) VALUES (0)');
  await waitFor('the latency topic', async () => (await readTopic(kafka.bootstrap, `${PREFIX}.src.public.latency`)).length > 0, 60_000, 500);
  await consumer.connect();
  await consumer.subscribe({ topic: `${PREFIX}.src.public.latency`, fromBeginning: false });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  await consumer.run({
    eachMessage: async ({ message }) => {
      const received = nowUs();
      const e = JSON.parse(message.value?.toString('utf8') ?? '{}') as { source?: { ts_us?: number } };
      if (e.source?.ts_us !== undefined) lat.push((received - e.source.ts_us) / 1000);
    },
  });
  await waitFor('the latency consumer to join', () => joined, 60_000);
  await new Promise((r) => setTimeout(r, 2000));
  const start = performance.now();
  let sent = 0;
  const perTx = 100;
  while (performance.now() - start < SECONDS * 1000) {
    if (sent < Math.floor(((performance.now() - start) / 1000) * RATE)) {
      await src.query(`INSERT INTO latency (v) SELECT g FROM generate_series(1, ${perTx}) g`);
      sent += perTx;
    } else await new Promise((r) => setTimeout(r, 2));
  }
  await waitFor('every latency row read', () => lat.length >= sent, 120_000, 100);
  await consumer.disconnect();
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? Number.NaN;
  log(`latency at a steady ${RATE} rows/s for ${SECONDS} s (${lat.length} rows; source commit → readable with read_committed)`);
  log(`  p50 ${q(0.5).toFixed(1)} ms   p99 ${q(0.99).toFixed(1)} ms   max ${q(1).toFixed(1)} ms`);
}

try {
  await src.query('CREATE TABLE rows (id bigint PRIMARY KEY, v int NOT NULL, label text NOT NULL, at timestamptz NOT NULL DEFAULT now())');
  hub.start();
  agent.start();
  await waitFor('the agent to stream', async () => (await src.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'tributary_bench'")).rows[0]?.active === true, 90_000);
  await waitFor('the hub to listen', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined))?.ok, 120_000, 200);
  log(`Kafka ${kafka.version}, single broker; PostgreSQL source; hub and agent on this machine`);
  const size = await throughput();
  await producerPerformance(size);
  await latency();
} finally {
  await agent.stop();
  await hub.stop();
  agent.close();
  hub.close();
  await src.end();
  await pgi.stop();
  await kafka.stop();
}
