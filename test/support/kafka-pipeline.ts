/**
 * Hubs on a Kafka log, a switchable TCP proxy (an agent's load balancer in
 * front of several hubs), and read_committed topic readers for checking
 * topic contents exactly.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { ManagedProcess, TEST_ADMIN_TOKEN } from './pipeline.js';

export interface KafkaHubSetup {
  readonly dir: string;
  readonly hubId: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly bootstrap: string;
  readonly topicPrefix: string;
  readonly agentId: string;
  readonly sourceId: string;
  readonly tombstones?: boolean;
  /** A PostgreSQL destination fed from Kafka; omitted: the hub only ingests. */
  readonly sink?: { readonly port: number; readonly database: string; readonly schema?: string };
}

export function kafkaHubProcess(s: KafkaHubSetup): ManagedProcess {
  mkdirSync(s.dir, { recursive: true });
  const sinks = s.sink === undefined ? [] : [{ name: 'dest', kind: 'postgres', host: '127.0.0.1', port: s.sink.port, database: s.sink.database, user: 'postgres', schema: s.sink.schema ?? 'public' }];
  const config = {
    hubId: s.hubId,
    grpc: { listen: `127.0.0.1:${s.grpcPort}` },
    http: { listen: `127.0.0.1:${s.httpPort}` },
    log: { kind: 'kafka', brokers: s.bootstrap.split(','), topicPrefix: s.topicPrefix, tombstones: s.tombstones ?? false, statePartitions: 2, transactionTimeoutMs: 15_000 },
    sinks,
    pipelines: [{ name: 'main', agent: s.agentId, source: s.sourceId, sinks: sinks.map((x) => x.name) }],
    // Development plaintext mode, as the other pipeline tests; a Kafka log has no local directory, so the security state gets one.
    security: { plaintext: true, path: join(s.dir, `${s.hubId}-security`), adminTokens: [{ workspace: 'default', token: TEST_ADMIN_TOKEN }] },
    logLevel: 'info',
  };
  const path = join(s.dir, `${s.hubId}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return new ManagedProcess(s.hubId, ['hub', '--config', path], join(s.dir, `${s.hubId}.log`));
}

/** A TCP proxy whose target can be switched; switching cuts every open connection, as a failed-over load balancer does. */
export class SwitchProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  port = 0;

  constructor(private target: number) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((res) => this.server?.listen(0, '127.0.0.1', () => res()));
    const a = this.server.address();
    this.port = typeof a === 'object' && a !== null ? a.port : 0;
    return this.port;
  }

  switchTo(port: number): void {
    this.target = port;
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
  }
}

export interface TopicRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
}

function headersOf(m: KafkaMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  return out;
}

/**
 * Every committed record of a topic (read_committed), in partition and offset
 * order, each once: reads until each partition's position reaches its high
 * watermark (transaction markers included), so nothing committed before the
 * call is missed. The consumer may hand over a fetched batch again (after a
 * rebalance or a retried fetch); a record is what the topic holds at its
 * offset, so a second delivery of the same offset is not a second record.
 */
export async function readTopic(bootstrap: string, topic: string, timeoutMs = 60_000): Promise<TopicRecord[]> {
  const kafka = new Kafka({ clientId: 'test-reader', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `test-reader-${Math.random().toString(36).slice(2)}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  const records = new Map<string, TopicRecord>();
  const position = new Map<number, number>();
  const done = (): boolean => [...ends].every(([p, high]) => high === 0 || (position.get(p) ?? -1) >= high - 1);
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let wake = (): void => undefined;
    const finished = new Promise<void>((res) => (wake = res));
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      position.set(payload.partition, Math.max(position.get(payload.partition) ?? -1, Number(payload.lastOffset)));
      if (done()) wake();
    });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const offset = Number(message.offset);
        records.set(`${partition}:${offset}`, { partition, offset, key: message.key?.toString('utf8') ?? null, value: message.value, headers: headersOf(message) });
      },
    });
    if (!done()) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([finished, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`reading ${topic}: not at the end after ${timeoutMs} ms`)), timeoutMs)))]);
      clearTimeout(timer);
    }
  } finally {
    await consumer.disconnect();
  }
  return [...records.values()].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
