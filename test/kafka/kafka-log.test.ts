/**
 * The hub's log on a real single-node Kafka (4.x, KRaft): exactly once into
 * topics through kill -9s of the hub and a broker restart, the envelope as
 * Kafka's own console consumer reads it, agent failover between two hubs on
 * one cluster, and the PostgreSQL sink fed from Kafka converging exactly
 * and kept fresh by the agent's heartbeats while the source is idle.
 * One broker and one PostgreSQL are shared by the whole file.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { fetchKafka, startKafka, type KafkaInstance } from '../support/kafka.js';
import { assertChurnExactlyOnce, assertIngestDense } from '../support/kafka-check.js';
import { kafkaHubProcess, SwitchProxy } from '../support/kafka-pipeline.js';
import { agentProcess, apiFetch, freePort, tempDir, waitFor, type ManagedProcess } from '../support/pipeline.js';
import { startPostgres, type PgInstance } from '../support/postgres.js';
import { WRITER_COLUMNS, WRITER_TABLE, randomBetween, startWriter } from '../support/writer.js';
import { tableText } from '../support/e2e.js';

const KILLS = Number(process.env['KAFKA_TEST_KILLS'] ?? 20);
const PREFIX = 'tr';
const SOURCE_KEY = 'agent-1/src';

let kafka: KafkaInstance;
let pgi: PgInstance;
let src: pg.Pool;
let dst: pg.Pool;
let proxy: SwitchProxy;
let hubA: ManagedProcess;
let hubB: ManagedProcess;
let agent: ManagedProcess;
let dir: string;
const ports = { a: 0, b: 0, httpA: 0, httpB: 0 };
/** Row changes committed by all writers of this file so far. */
let committed = 0;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  fetchKafka();
  [kafka, pgi] = await Promise.all([startKafka(), startPostgres({ walLevel: 'logical' })]);
  await pgi.createDatabase('src');
  await pgi.createDatabase('dst');
  src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 4 });
  dst = new pg.Pool({ connectionString: pgi.connectionString('dst'), max: 2 });
  src.on('error', () => undefined);
  dst.on('error', () => undefined);
  await src.query(WRITER_TABLE);
  dir = tempDir('kafka-log');
  ports.a = await freePort();
  ports.b = await freePort();
  ports.httpA = await freePort();
  ports.httpB = await freePort();
  const hub = (hubId: string, grpcPort: number, httpPort: number): ManagedProcess =>
    kafkaHubProcess({ dir: join(dir, 'hubs'), hubId, grpcPort, httpPort, bootstrap: kafka.bootstrap, topicPrefix: PREFIX, agentId: 'agent-1', sourceId: 'src', sink: { port: pgi.port, database: 'dst' } });
  hubA = hub('hub-a', ports.a, ports.httpA);
  hubB = hub('hub-b', ports.b, ports.httpB);
  proxy = new SwitchProxy(ports.a);
  await proxy.start();
  agent = agentProcess({ dir: join(dir, 'agent'), hubPort: proxy.port, sourcePort: pgi.port, sourceDatabase: 'src', agentId: 'agent-1', sourceId: 'src', slot: 'tributary_kafka', batchEvents: 200, source: { heartbeatIntervalMs: 1000 } });
  hubA.start();
  agent.start();
  await waitFor(
    'the agent to stream from its slot',
    async () => (await src.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'tributary_kafka'")).rows[0]?.active === true,
    90_000,
  );
});

after(async () => {
  await agent?.stop();
  await hubA?.stop();
  await hubB?.stop();
  for (const p of [agent, hubA, hubB]) p?.close();
  await proxy?.stop();
  await src?.end();
  await dst?.end();
  await pgi?.stop();
  await kafka?.stop();
});

async function converged(timeoutMs = 120_000): Promise<void> {
  let last = '';
  await waitFor(
    'the destination to equal the source',
    async () => {
      const [a, b] = await Promise.all([tableText(src, 'churn', WRITER_COLUMNS), tableText(dst, 'churn', WRITER_COLUMNS)]);
      last = `source ${a.length} rows, destination ${b.length}`;
      return JSON.stringify(a) === JSON.stringify(b);
    },
    timeoutMs,
    500,
  ).catch(async (e: unknown) => {
    const offsets = await dst.query('SELECT * FROM _tributary_offsets').catch((err: unknown) => ({ rows: String(err) }));
    throw new Error(`${String(e)} (${last}; sink offsets ${JSON.stringify(offsets.rows)}); logs in ${dir}`);
  });
}

/** Resolves once this incarnation of the hub has ingested a batch (its counter starts at zero). */
async function ingesting(httpPort: number): Promise<void> {
  await waitFor(
    'the hub to ingest',
    async () => {
      const text = await (await apiFetch(httpPort, '/metrics')).text();
      const m = /tributary_hub_events_ingested_total\{source="agent-1\/src"\} (\d+)/.exec(text);
      return m !== null && Number(m[1]) > 0;
    },
    60_000,
    50,
  );
}

async function checkExactlyOnce(): Promise<void> {
  await converged();
  await assertChurnExactlyOnce(kafka.bootstrap, PREFIX, src, committed);
  await assertIngestDense(kafka.bootstrap, PREFIX, SOURCE_KEY);
}

test(`kill -9 the hub ${KILLS} times during steady ingest: every change in Kafka exactly once, the PostgreSQL sink fed from Kafka equal to the source`, async () => {
  const writer = startWriter(src, { pauseMs: 10 });
  for (let i = 0; i < KILLS; i++) {
    // Each kill hits a hub that is writing transactions, not one still starting.
    await ingesting(ports.httpA);
    await sleep(randomBetween(100, 800));
    await hubA.kill9();
    await sleep(randomBetween(50, 300));
    hubA.start();
  }
  await sleep(1000);
  await writer.stop();
  committed += writer.committedChanges();
  assert.ok(writer.committedChanges() > 500, `the writer committed ${writer.committedChanges()} changes`);
  await checkExactlyOnce();
});

test('kill -9 and restart of the single broker mid-stream loses and duplicates nothing', async () => {
  const writer = startWriter(src, { pauseMs: 10 });
  await sleep(2000);
  await kafka.killBroker(0);
  await sleep(2000);
  await kafka.restartBroker(0);
  await sleep(2000);
  await writer.stop();
  committed += writer.committedChanges();
  await checkExactlyOnce();
});

test("Kafka's own console consumer reads the Debezium envelope", async () => {
  await src.query("INSERT INTO churn VALUES (100001, 42, 'console') ON CONFLICT (id) DO NOTHING");
  committed += 1;
  await converged();
  const out = await kafka.runTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
    '--bootstrap-server', kafka.bootstrap, '--topic', `${PREFIX}.src.public.churn`, '--from-beginning', '--max-messages', String(committed), '--timeout-ms', '60000',
    '--isolation-level', 'read_committed', '--formatter-property', 'print.key=true', '--formatter-property', 'print.headers=true',
    '--formatter-property', 'key.separator=|', '--formatter-property', 'headers.separator=;',
  ]);
  const line = out.split('\n').find((l) => l.includes('"console"'));
  assert.ok(line !== undefined, `the console consumer printed the row (output: ${out.slice(-500)})`);
  const [headers = '', key = '', value = ''] = line.split('|');
  assert.match(headers, /tributary\.schema\.version:1/);
  assert.deepEqual(JSON.parse(key), { id: 100001 });
  const e = JSON.parse(value) as Record<string, unknown> & { source: Record<string, unknown> };
  assert.equal(e['op'], 'c');
  assert.equal(e['before'], null);
  assert.deepEqual(e['after'], { id: 100001, v: 42, note: 'console' });
  assert.equal(typeof e['ts_ms'], 'number');
  assert.equal(e.source['connector'], 'postgresql');
  assert.equal(e.source['db'], 'src');
  assert.equal(e.source['schema'], 'public');
  assert.equal(e.source['table'], 'churn');
  assert.equal(e.source['snapshot'], 'false');
  for (const f of ['ts_ms', 'txId', 'lsn']) assert.equal(typeof e.source[f], 'number', `source.${f}`);
  assert.ok((e['ts_ms'] as number) >= (e.source['ts_ms'] as number), 'processed after the commit');
});

test('agent failover between two hubs on one cluster, and back to a hub that is still running', async () => {
  hubB.start();
  const writer = startWriter(src, { pauseMs: 10 });
  await sleep(2000);
  // Hub A dies; the agent's address now leads to hub B.
  await hubA.kill9();
  proxy.switchTo(ports.b);
  await sleep(3000);
  // Hub A is back and the agent moves to it while hub B still runs: A's claim fences B.
  hubA.start();
  await sleep(3000);
  proxy.switchTo(ports.a);
  await sleep(3000);
  await writer.stop();
  committed += writer.committedChanges();
  await checkExactlyOnce();
  await hubB.stop();
});

test('schema history lives in the Kafka log: a new version is visible through the API, also after a restart of the hub', async () => {
  await src.query('CREATE TABLE drift_k (id int PRIMARY KEY, v text)');
  await src.query(`INSERT INTO drift_k VALUES (1, 'a')`);
  await src.query('ALTER TABLE drift_k ADD COLUMN n int');
  await src.query(`INSERT INTO drift_k VALUES (2, 'b', 2)`);
  type History = { versions: { version: number; firstSeenAt: string | null; diff: { added: { name: string }[] } }[] };
  const history = async (): Promise<History | false> => {
    const r = await apiFetch(ports.httpA, '/v1/schemas/agent-1/src/public/drift_k');
    if (!r.ok) return false;
    const h = (await r.json()) as History;
    return h.versions.length === 2 ? h : false;
  };
  // Read once the data is committed in Kafka (the sink fed from Kafka has it): a version appears in the hub at
  // once, but is first stored only when its transaction commits; an aborted one is stored again on resend.
  await waitFor('the sink to apply both rows', async () => (await dst.query('SELECT count(*)::int AS n FROM drift_k').catch(() => ({ rows: [{ n: 0 }] }))).rows[0]?.n === 2, 120_000, 250);
  const live = await waitFor('both versions in the Kafka log', history, 120_000, 250);
  assert.deepEqual(live.versions.map((v) => v.version), [1, 2]);
  assert.deepEqual(live.versions[1]?.diff.added.map((c) => c.name), ['n']);
  assert.ok(live.versions.every((v) => v.firstSeenAt !== null));
  // A restarted hub rebuilds the history from the state topic, first-seen times included.
  await hubA.stop();
  hubA.start();
  const rebuilt = await waitFor('the history after a restart', history, 120_000, 250);
  assert.deepEqual(rebuilt.versions.map((v) => [v.version, v.firstSeenAt]), live.versions.map((v) => [v.version, v.firstSeenAt]));
});

test('freshness through Kafka: with the source idle, heartbeats keep the sink fed from Kafka fresh', async () => {
  type Sink = { lagSeconds: number | null; freshUntil: string | null };
  const sink = async (): Promise<Sink> => {
    const body = (await (await apiFetch(ports.httpA, '/v1/pipelines')).json()) as { pipelines: { sinks: Sink[] }[] };
    const s = body.pipelines[0]?.sinks[0];
    assert.ok(s !== undefined, 'the sink is listed');
    return s;
  };
  const first = await waitFor('a measured sink lag', async () => {
    const s = await sink();
    return s.lagSeconds !== null && s.lagSeconds < 5 && s.freshUntil !== null ? s : undefined;
  }, 60_000, 250);
  const samples: number[] = [];
  for (let i = 0; i < 12; i++) {
    await sleep(500);
    const s = await sink();
    assert.ok(s.lagSeconds !== null);
    samples.push(s.lagSeconds);
  }
  const last = await sink();
  const moved = Date.parse(last.freshUntil ?? '') - Date.parse(first.freshUntil ?? '');
  assert.ok(moved >= 3_000, `fresh-until moved ${moved} ms in 6 s with the source idle`);
  assert.ok(Math.max(...samples) < 5, `idle lag stays small through Kafka (samples ${samples.map((v) => v.toFixed(2)).join(', ')})`);
  const metrics = await (await apiFetch(ports.httpA, '/metrics')).text();
  assert.match(metrics, /^tributary_sink_lag_seconds\{sink="dest",source="agent-1\/src"\} [0-9.e+-]+$/m);
});
