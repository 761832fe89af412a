/**
 * Proof of the `kafkajs` client against a real Kafka broker (default: the pom's
 * 4.x line), capability by capability, for the hub's Kafka log and sink.
 * Not part of the test suite (no `.test.ts`): run by hand.
 *
 *   npm install --no-save kafkajs@2.2.4        (not yet a dependency of the project)
 *   node --import tsx test/kafka/kafkajs-proof.ts [--version 3.9.1] [--brokers 1|3] [--records 200000]
 *
 * Prints PASS/FAIL per capability (with the client's error text) and throughput
 * figures next to Kafka's own ProducerPerformance as the ceiling; exits 1 if any FAILs.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startKafka, type KafkaInstance } from '../support/kafka.js';

// kafkajs is not a dependency yet: load it at run time so the project typechecks without it.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;
const { Kafka, logLevel, CompressionTypes } = (await import('kafkajs' as string)) as Any;

const { values: argv } = parseArgs({
  options: {
    version: { type: 'string' },
    brokers: { type: 'string', default: '1' },
    records: { type: 'string', default: '200000' },
    'record-size': { type: 'string', default: '200' },
  },
});
const RECORDS = Number(argv.records);
const RECORD_SIZE = Number(argv['record-size']);

interface Outcome {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}
const outcomes: Outcome[] = [];

/** The client's last error-level log lines, shown with a failure (the thrown error alone is often terse). */
const clientErrors: string[] = [];
const logCreator = () => (entry: Any) => {
  if (entry.level <= logLevel.ERROR) {
    const { message, error, ...rest } = entry.log;
    clientErrors.push(`${entry.namespace}: ${message}${error ? ` (${error})` : ''} ${JSON.stringify(rest).slice(0, 300)}`);
    if (clientErrors.length > 8) clientErrors.shift();
  }
};

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as Any).cause ?? (e as Any).originalError;
    const extra = [e.name !== 'Error' ? e.name : '', (e as Any).type ? `type=${(e as Any).type}` : '', cause ? `cause: ${errorText(cause)}` : ''].filter(Boolean).join(' ');
    return `${e.message}${extra ? ` [${extra}]` : ''}`;
  }
  return String(e);
}

async function withTimeout<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function capability(name: string, fn: () => Promise<string>, timeoutMs = 90_000): Promise<void> {
  clientErrors.length = 0;
  const t0 = Date.now();
  try {
    const detail = await withTimeout(timeoutMs, name, fn());
    outcomes.push({ name, ok: true, detail });
    console.log(`PASS  ${name} (${Date.now() - t0} ms): ${detail}`);
  } catch (e) {
    const detail = `${errorText(e)}${clientErrors.length ? `\n        client log: ${clientErrors.join('\n        client log: ')}` : ''}`;
    outcomes.push({ name, ok: false, detail });
    console.log(`FAIL  ${name} (${Date.now() - t0} ms): ${detail}`);
  }
}

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seen {
  readonly value: string;
  readonly at: string; // partition:offset
}

/** Consumes `topic` from the beginning with a fresh group until `expect` records, then a quiet period. */
async function drainRecords(kafka: Any, topic: string, opts: { readUncommitted?: boolean; expect: number; quietMs?: number }): Promise<{ seen: Seen[]; rebalances: number }> {
  const consumer = kafka.consumer({ groupId: `drain-${topic}-${randomBytes(4).toString('hex')}`, readUncommitted: opts.readUncommitted ?? false, maxWaitTimeInMs: 200 });
  const seen: Seen[] = [];
  let joins = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => void joins++);
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let last = Date.now();
    await consumer.run({
      eachMessage: async ({ partition, message }: Any) => {
        seen.push({ value: message.value?.toString() ?? '<null>', at: `${partition}:${message.offset}` });
        last = Date.now();
      },
    });
    const quiet = opts.quietMs ?? 3_000;
    const deadline = Date.now() + 30_000;
    // Wait for the expected count, then a quiet period so surplus (duplicates, aborted records) shows too.
    while (Date.now() < deadline && (seen.length < opts.expect || Date.now() - last < quiet)) await sleep(100);
    return { seen, rebalances: joins - 1 };
  } finally {
    await consumer.disconnect();
  }
}

async function drain(kafka: Any, topic: string, opts: { readUncommitted?: boolean; expect: number; quietMs?: number }): Promise<string[]> {
  const { seen } = await drainRecords(kafka, topic, opts);
  // Redelivery of the same offset (at-least-once after a rebalance) is not a duplicate in the log.
  const byOffset = new Map(seen.map((r) => [r.at, r.value]));
  return [...byOffset.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([, v]) => v);
}

async function main(): Promise<void> {
  console.log(`kafkajs ${(await import('kafkajs/package.json' as string, { with: { type: 'json' } })).default.version}, Node ${process.version}`);
  const t0 = Date.now();
  const brokers = argv.brokers === '3' ? 3 : 1;
  const broker: KafkaInstance = await startKafka({ brokers, ...(argv.version ? { version: argv.version } : {}) });
  console.log(`Kafka ${broker.version} (${brokers} node(s), KRaft) at ${broker.bootstrap}, started in ${Date.now() - t0} ms`);
  const kafka = new Kafka({ clientId: 'tributary-proof', brokers: broker.bootstrap.split(','), logLevel: logLevel.ERROR, logCreator, retry: { retries: 3 } });
  const admin = kafka.admin();
  try {
    await capability('admin: connect + ApiVersions + createTopics', async () => {
      await admin.connect();
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: 'roundtrip', numPartitions: 3 },
          { topic: 'idem', numPartitions: 3 },
          { topic: 'tx-a', numPartitions: 2 },
          { topic: 'tx-b', numPartitions: 2 },
          { topic: 'tx-src', numPartitions: 1 },
          { topic: 'groups', numPartitions: 4 },
          { topic: 'perf-kafkajs', numPartitions: 1 },
          { topic: 'perf-java', numPartitions: 1 },
        ],
      });
      const topics: string[] = await admin.listTopics();
      return `topics: ${topics.filter((t) => !t.startsWith('__')).sort().join(',')}`;
    });

    await capability('(1) produce + consume round trip', async () => {
      const producer = kafka.producer();
      await producer.connect();
      const sent = Array.from({ length: 30 }, (_, i) => `rt-${i}`);
      const res = await producer.send({ topic: 'roundtrip', acks: -1, messages: sent.map((v, i) => ({ key: `k${i % 7}`, value: v, headers: { h: 'x' } })) });
      await producer.disconnect();
      const { seen, rebalances } = await drainRecords(kafka, 'roundtrip', { expect: sent.length, quietMs: 1_000 });
      const offsets = await admin.fetchTopicOffsets('roundtrip');
      const inLog = offsets.reduce((n: number, p: Any) => n + Number(p.high), 0);
      const distinct = new Map(seen.map((r) => [r.at, r.value]));
      const values = [...distinct.values()].sort();
      assert(inLog === sent.length, `the log holds ${inLog} records, ${sent.length} were sent`);
      assert(values.join() === [...sent].sort().join(), `sent ${sent.length}, got ${distinct.size} distinct: ${values.slice(0, 5).join(',')}`);
      const redelivered = seen.length - distinct.size;
      return `${sent.length} records over ${res.length} partitions came back intact` + (redelivered ? ` (consumer redelivered ${redelivered} already-seen offsets after ${rebalances} rebalance(s): at-least-once)` : '');
    });

    await capability('(2) idempotent producer (idempotent: true, acks -1)', async () => {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const sent = Array.from({ length: 300 }, (_, i) => `idem-${i}`);
      for (let b = 0; b < 3; b++) {
        await producer.send({ topic: 'idem', acks: -1, messages: sent.slice(b * 100, b * 100 + 100).map((v) => ({ key: v, value: v })) });
      }
      await producer.disconnect();
      const got = await drain(kafka, 'idem', { expect: sent.length, quietMs: 1_000 });
      assert(got.length === sent.length && new Set(got).size === sent.length, `sent ${sent.length}, got ${got.length} (${new Set(got).size} distinct)`);
      return `${sent.length} records, exactly once each (InitProducerId + sequence numbers accepted)`;
    });

    await capability('(3a) transactions: commit (two topics + sendOffsets) visible to read_committed', async () => {
      const producer = kafka.producer({ transactionalId: 'proof-tx', idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const tx = await producer.transaction();
      await tx.send({ topic: 'tx-a', messages: [{ key: '1', value: 'committed-a' }] });
      await tx.send({ topic: 'tx-b', messages: [{ key: '1', value: 'committed-b' }] });
      await tx.sendOffsets({ consumerGroupId: 'proof-tx-group', topics: [{ topic: 'tx-src', partitions: [{ partition: 0, offset: '42' }] }] });
      await tx.commit();
      await producer.disconnect();
      const a = await drain(kafka, 'tx-a', { expect: 1, quietMs: 500 });
      const b = await drain(kafka, 'tx-b', { expect: 1, quietMs: 500 });
      assert(a.join() === 'committed-a' && b.join() === 'committed-b', `read_committed saw tx-a=[${a}] tx-b=[${b}]`);
      const offsets = await admin.fetchOffsets({ groupId: 'proof-tx-group', topics: ['tx-src'] });
      const off = offsets[0]?.partitions?.[0]?.offset;
      assert(off === '42', `group offset after commit is ${off}, expected 42`);
      return 'both topics visible; group offset 42 committed in the transaction';
    });

    await capability('(3b) transactions: abort invisible to read_committed', async () => {
      const producer = kafka.producer({ transactionalId: 'proof-tx', idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const tx = await producer.transaction();
      await tx.send({ topic: 'tx-a', messages: [{ key: '2', value: 'aborted-a' }] });
      await tx.send({ topic: 'tx-b', messages: [{ key: '2', value: 'aborted-b' }] });
      await tx.sendOffsets({ consumerGroupId: 'proof-tx-group', topics: [{ topic: 'tx-src', partitions: [{ partition: 0, offset: '99' }] }] });
      await tx.abort();
      // A committed record after the aborted ones proves the consumer read past them.
      const tx2 = await producer.transaction();
      await tx2.send({ topic: 'tx-a', messages: [{ key: '3', value: 'committed-a-2' }] });
      await tx2.commit();
      await producer.disconnect();
      const committed = await drain(kafka, 'tx-a', { expect: 2, quietMs: 1_000 });
      const uncommitted = await drain(kafka, 'tx-a', { expect: 3, quietMs: 1_000, readUncommitted: true });
      assert(committed.join() === 'committed-a,committed-a-2', `read_committed saw [${committed}]`);
      assert(uncommitted.includes('aborted-a'), `read_uncommitted did not see the aborted record: [${uncommitted}]`);
      const offsets = await admin.fetchOffsets({ groupId: 'proof-tx-group', topics: ['tx-src'] });
      const off = offsets[0]?.partitions?.[0]?.offset;
      assert(off === '42', `group offset after abort is ${off}, expected 42 (the aborted 99 must not apply)`);
      return `read_committed: [${committed}]; read_uncommitted also saw the aborted record; group offset stayed 42`;
    });

    await capability('(4) consumer group: two members share 4 partitions, rebalance on leave', async () => {
      const received = new Map<string, number>();
      // GROUP_JOIN's memberAssignment is { topic: partitions[] }.
      const partitionsOf = new Map<string, number[]>();
      const mk = (name: string) => {
        const c = kafka.consumer({ groupId: 'proof-group', sessionTimeout: 10_000, heartbeatInterval: 1_000, rebalanceTimeout: 10_000, maxWaitTimeInMs: 200 });
        c.on(c.events.GROUP_JOIN, (e: Any) => partitionsOf.set(name, [...(e.payload.memberAssignment.groups ?? [])].sort()));
        return c;
      };
      const a = mk('A');
      const b = mk('B');
      const start = async (c: Any, name: string) => {
        await c.connect();
        await c.subscribe({ topics: ['groups'], fromBeginning: true });
        await c.run({ eachMessage: async () => void received.set(name, (received.get(name) ?? 0) + 1) });
      };
      const producer = kafka.producer();
      await producer.connect();
      const produce = (n: number, tag: string) => producer.send({ topic: 'groups', messages: Array.from({ length: n }, (_, i) => ({ key: `${tag}-${i}`, value: `${tag}-${i}` })) });
      const waitUntil = async (what: string, f: () => boolean) => {
        const deadline = Date.now() + 30_000;
        while (!f()) {
          if (Date.now() > deadline) throw new Error(`timed out: ${what}; assignments ${JSON.stringify([...partitionsOf])}`);
          await sleep(100);
        }
      };
      await start(a, 'A');
      await waitUntil('A holds all 4 partitions', () => partitionsOf.get('A')?.length === 4);
      await start(b, 'B');
      await waitUntil('A and B hold 2 partitions each', () => partitionsOf.get('A')?.length === 2 && partitionsOf.get('B')?.length === 2);
      const split = `A=${JSON.stringify(partitionsOf.get('A'))} B=${JSON.stringify(partitionsOf.get('B'))}`;
      await produce(200, 'shared');
      await waitUntil('both members received records', () => (received.get('A') ?? 0) + (received.get('B') ?? 0) >= 200);
      const shared = `A got ${received.get('A') ?? 0}, B got ${received.get('B') ?? 0}`;
      assert((received.get('A') ?? 0) > 0 && (received.get('B') ?? 0) > 0, `records were not shared: ${shared}`);
      await a.disconnect(); // LeaveGroup: B must take over all partitions
      await waitUntil('B holds all 4 partitions after A left', () => partitionsOf.get('B')?.length === 4);
      const before = received.get('B') ?? 0;
      await produce(100, 'after');
      await waitUntil('B receives the records of all partitions', () => (received.get('B') ?? 0) - before >= 100);
      await b.disconnect();
      await producer.disconnect();
      return `split ${split}; ${shared}; after A left B holds ${JSON.stringify(partitionsOf.get('B'))} and got 100/100 new records`;
    });

    const payload = randomBytes(RECORD_SIZE / 2).toString('hex').slice(0, RECORD_SIZE);
    const perf: Record<string, string> = {};
    const kafkajsThroughput = async (topic: string, idempotent: boolean) => {
      const producer = kafka.producer(idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {});
      await producer.connect();
      const batch = 1_000;
      const messages = Array.from({ length: batch }, (_, i) => ({ key: String(i), value: payload }));
      const t = process.hrtime.bigint();
      for (let sent = 0; sent < RECORDS; sent += batch) {
        await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages: sent + batch <= RECORDS ? messages : messages.slice(0, RECORDS - sent) });
      }
      const s = Number(process.hrtime.bigint() - t) / 1e9;
      await producer.disconnect();
      const offsets = await admin.fetchTopicOffsets(topic);
      const total = offsets.reduce((n: number, p: Any) => n + Number(p.high), 0);
      return { s, total };
    };

    await capability(`(5a) throughput kafkajs: ${RECORDS} x ${RECORD_SIZE} B, idempotent, acks -1`, async () => {
      const { s, total } = await kafkajsThroughput('perf-kafkajs', true);
      assert(total === RECORDS, `topic holds ${total} records, expected ${RECORDS}`);
      perf.kafkajs = `${Math.round(RECORDS / s)} rec/s, ${(RECORDS * RECORD_SIZE / s / 1e6).toFixed(1)} MB/s (${s.toFixed(2)} s)`;
      return perf.kafkajs + ' (sequential send() of 1000-record batches, one in flight)';
    }, 300_000);

    await capability(`(5b) throughput Java ProducerPerformance (ceiling): ${RECORDS} x ${RECORD_SIZE} B, idempotent, acks all`, async () => {
      const out = await broker.runTool('org.apache.kafka.tools.ProducerPerformance', [
        '--topic', 'perf-java', '--num-records', String(RECORDS), '--record-size', String(RECORD_SIZE), '--throughput', '-1',
        '--producer-props', `bootstrap.servers=${broker.bootstrap}`, 'acks=all', 'enable.idempotence=true', 'compression.type=none',
        // Batches comparable to kafkajs' 1000-record sends; the defaults (16 KiB, 5 ms) leave the broker request-bound.
        'batch.size=262144', 'linger.ms=10',
      ]);
      const summary = out.trim().split('\n').filter((l) => l.includes('records sent')).pop() ?? out.trim();
      perf.java = summary;
      return summary;
    }, 300_000);
  } finally {
    await admin.disconnect().catch(() => undefined);
    await broker.stop();
  }

  const failed = outcomes.filter((o) => !o.ok);
  console.log(`\nSummary (kafkajs vs Kafka ${broker.version}, ${brokers} node(s)): ${outcomes.length - failed.length} passed, ${failed.length} failed`);
  for (const o of outcomes) console.log(`  ${o.ok ? 'PASS' : 'FAIL'}  ${o.name}`);
  process.exitCode = failed.length ? 1 : 0;
}

await main();
