/**
 * The hub log on Apache Kafka. Each ingested batch is written in ONE Kafka
 * transaction (transactional id per source; batches queued behind an open
 * transaction share the next one, see source-writer.ts) holding:
 *   1. the batch bytes, unchanged, in the single-partition ingest topic (sinks replay it exactly);
 *   2. one Debezium envelope per change in the table's topic (key = primary key);
 *   3. the table schemas it introduces and the source's checkpoint in the compacted state topic.
 * The hub acknowledges the sequence only after the commit, so a crash before
 * the ack leaves either nothing (aborted: the agent resends) or everything
 * (committed: the checkpoint says so and the resend is recognised). Readers
 * use read_committed and never see a half-written batch.
 */
import { createHash } from 'node:crypto';
import { toBinary } from '@bufbuild/protobuf';
import type { Admin, Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { TableSchemaSchema, type TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { HubError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AppendResult, IngestLog, SchemaRecord, SourceCheckpoint } from '../change-log.js';
import { createKafka, ensureTopics } from './client.js';
import type { KafkaLogConfig } from './config.js';
import { decodeBatch } from './decode.js';
import { envelopeRecords, SCHEMA_VERSION_HEADER } from './envelope.js';
import { SourceWriter } from './source-writer.js';
import { FIRST_SEEN_HEADER, schemaKey, StateView, statePartition } from './state.js';
import { TopicNamer, ingestTopic, stateTopic, transactionalId } from './topics.js';

/** A batch (up to the agent's 32 MiB message limit) is one ingest record; a wide row is one envelope. */
const MAX_MESSAGE = { name: 'max.message.bytes', value: String(64 << 20) };

export class KafkaChangeLog implements IngestLog {
  readonly concurrentAppends = true;
  private readonly writers = new Map<string, SourceWriter>();
  /** Claims in progress: appends of the new stream wait for them (they are issued before the Welcome is sent). */
  private readonly claims = new Map<string, Promise<void>>();
  /** Table topics known to exist, with their partition counts. */
  private readonly knownTopics = new Map<string, number>();
  private readonly namer: TopicNamer;
  private head = 0;

  private constructor(
    readonly config: KafkaLogConfig,
    readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly plain: Producer,
    readonly state: StateView,
    private readonly logger: Logger,
  ) {
    this.namer = new TopicNamer(config);
  }

  /** Connects, creates the ingest and state topics when missing, and starts reading the state topic. */
  static async open(config: KafkaLogConfig, hubId: string, logger: Logger): Promise<KafkaChangeLog> {
    const kafka = createKafka(config, logger);
    const admin = kafka.admin();
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    try {
      await admin.connect();
      await plain.connect();
      const rf = config.replicationFactor;
      await ensureTopics(admin, [
        { topic: ingestTopic(config.topicPrefix), numPartitions: 1, replicationFactor: rf, configEntries: [MAX_MESSAGE] },
        { topic: stateTopic(config.topicPrefix), numPartitions: config.statePartitions, replicationFactor: rf, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ]);
      const meta = await admin.fetchTopicMetadata({ topics: [stateTopic(config.topicPrefix)] });
      const partitions = meta.topics[0]?.partitions.length ?? 0;
      if (partitions === 0) throw new HubError('log-unavailable', `topic ${stateTopic(config.topicPrefix)} has no partitions`);
      const state = new StateView(kafka, stateTopic(config.topicPrefix), partitions, plain, hubId, logger.child('kafka-state'));
      await state.start();
      return new KafkaChangeLog(config, kafka, admin, plain, state, logger.child('kafka-log'));
    } catch (cause) {
      await plain.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      throw cause instanceof HubError ? cause : new HubError('log-unavailable', `cannot open the Kafka log at ${config.brokers.join(',')}`, { cause });
    }
  }

  /**
   * A new transactional producer for the source: its InitProducerId fences
   * every older producer of the source (another hub, or this hub's previous
   * stream) and completes its open transaction; the barrier then makes the
   * checkpoint final.
   */
  claimSource(sourceKey: string): Promise<void> {
    const claim = this.claim(sourceKey).finally(() => {
      if (this.claims.get(sourceKey) === claim) this.claims.delete(sourceKey);
    });
    this.claims.set(sourceKey, claim);
    return claim;
  }

  private async claim(sourceKey: string): Promise<void> {
    const old = this.writers.get(sourceKey);
    this.writers.delete(sourceKey);
    await old?.producer.disconnect().catch(() => undefined);
    const producer = this.kafka.producer({
      transactionalId: transactionalId(this.config.topicPrefix, sourceKey),
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.config.transactionTimeoutMs,
      // The coordinator answers CONCURRENT_TRANSACTIONS while it writes the previous commit's markers (a few
      // milliseconds); kafkajs's default 100 ms first retry would then cap a source at ~10 transactions/s.
      retry: { initialRetryTime: 3, maxRetryTime: 1_000, retries: 25 },
    });
    try {
      await producer.connect();
      // kafkajs sends InitProducerId with the first transaction, not on connect: open and drop an empty one to fence now.
      const fence = await producer.transaction();
      await fence.abort();
      await this.state.barrier(statePartition(sourceKey, this.state.partitions));
    } catch (cause) {
      await producer.disconnect().catch(() => undefined);
      throw new HubError('log-unavailable', `${sourceKey}: claiming the source in Kafka failed`, { cause });
    }
    const cp = this.state.checkpoints.get(sourceKey);
    if (cp !== undefined) this.head = Math.max(this.head, cp.offset);
    const partition = statePartition(sourceKey, this.state.partitions);
    this.writers.set(
      sourceKey,
      new SourceWriter(producer, sourceKey, {
        ingestTopic: ingestTopic(this.config.topicPrefix),
        stateTopic: stateTopic(this.config.topicPrefix),
        statePartition: partition,
        ensureTopics: (topics) => this.ensureTableTopics(topics),
        partitions: (topic) => {
          const n = this.knownTopics.get(topic);
          if (n === undefined) throw new HubError('internal', `topic ${topic} is used before its partitions are known`);
          return n;
        },
        committed: (c) => {
          this.state.noteCheckpoint(sourceKey, c);
          this.head = Math.max(this.head, c.offset);
        },
      }, (cp?.sequence ?? 0) + 1),
    );
  }

  /**
   * Validates and queues the batch at once (so concurrent appends keep their
   * call order) and resolves after the Kafka transaction holding it commits.
   */
  async append(sourceKey: string, sequence: number, sourcePosition: bigint, bytes: Uint8Array, schemas: readonly TableSchema[]): Promise<AppendResult> {
    const claim = this.claims.get(sourceKey);
    if (claim !== undefined) await claim;
    const writer = this.writers.get(sourceKey);
    if (writer === undefined || !writer.usable) throw new HubError('log-unavailable', `${sourceKey}: the source is not claimed by this hub`);
    const hash = createHash('sha256').update(bytes).digest().subarray(0, 16).toString('hex');
    if (sequence < writer.expected) {
      // Only the newest batch's hash is kept: older resends are recognised by sequence alone.
      const cp = this.state.checkpoints.get(sourceKey);
      if (cp !== undefined && cp.sequence === sequence && cp.hash !== hash)
        throw new HubError('sequence-conflict', `${sourceKey}: sequence ${sequence} was already ingested with different content; refusing it`);
      return 'duplicate';
    }
    if (sequence > writer.expected) throw new HubError('sequence-gap', `${sourceKey}: expected sequence ${writer.expected}, got ${sequence}`);
    for (const s of schemas) this.checkSchema(sourceKey, s);
    // Decoding and encoding happen before queueing: bad input writes nothing.
    const tables = this.tableMessages(sourceKey, bytes, schemas, sequence);
    // Later batches may use these schemas before this one commits.
    for (const s of schemas) this.state.noteSchema(sourceKey, s);
    await writer.enqueue({
      sequence,
      position: sourcePosition,
      hash,
      ingest: { partition: 0, key: sourceKey, value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), headers: { 'tributary.sequence': String(sequence) } },
      tables,
      schemas: schemas.map((s) => ({ key: schemaKey(sourceKey, s), value: Buffer.from(toBinary(TableSchemaSchema, s)), headers: { [FIRST_SEEN_HEADER]: String(this.state.firstSeenUs(sourceKey, s)) } })),
    });
    return 'appended';
  }

  private tableMessages(sourceKey: string, bytes: Uint8Array, schemas: readonly TableSchema[], sequence: number): TopicMessages[] {
    const fresh = new Map(schemas.map((s) => [`${s.schema}\u0000${s.table}\u0000${s.version}`, s]));
    const lookup = (schema: string, table: string, version: number): TableSchema | undefined =>
      fresh.get(`${schema}\u0000${table}\u0000${version}`) ?? this.state.schema(sourceKey, schema, table, version);
    const changes = decodeBatch(sourceKey, bytes, lookup, `batch ${sequence}`);
    const ctx = { name: this.config.topicPrefix, db: sourceKey.slice(sourceKey.indexOf('/') + 1), nowUs: BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) };
    const byTopic = new Map<string, Message[]>();
    for (const c of changes) {
      const topic = this.namer.tableTopic(sourceKey, c.schema.schema, c.schema.table);
      let list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, (list = []));
      for (const r of envelopeRecords(c, ctx, this.config.tombstones)) list.push({ key: r.key, value: r.value, headers: { [SCHEMA_VERSION_HEADER]: String(r.schemaVersion) } });
    }
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  private async ensureTableTopics(topics: readonly string[]): Promise<void> {
    const missing = topics.filter((t) => !this.knownTopics.has(t));
    if (missing.length === 0) return;
    try {
      await ensureTopics(this.admin, missing.map((topic) => ({ topic, numPartitions: this.config.tablePartitions, replicationFactor: this.config.replicationFactor, configEntries: [MAX_MESSAGE] })));
    } catch (cause) {
      throw new HubError('log-unavailable', `creating topics ${missing.join(', ')} failed`, { cause });
    }
    let counts: Map<string, number>;
    try {
      const meta = await this.admin.fetchTopicMetadata({ topics: missing });
      counts = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
    } catch (cause) {
      throw new HubError('log-unavailable', `reading the partitions of topics ${missing.join(', ')} failed`, { cause });
    }
    for (const t of missing) {
      const n = counts.get(t);
      if (n === undefined || n < 1) throw new HubError('log-unavailable', `topic ${t} has no partitions in the cluster's metadata`);
      this.knownTopics.set(t, n);
    }
  }

  /** A schema version is immutable: the same (table, version) with other columns is refused. */
  private checkSchema(sourceKey: string, s: TableSchema): void {
    const stored = this.state.schema(sourceKey, s.schema, s.table, s.version);
    if (stored === undefined) return;
    const shape = (t: TableSchema): string => JSON.stringify(t.columns.map((c) => [c.name, c.kind, c.sourceType, c.key]));
    if (shape(stored) !== shape(s)) throw new HubError('sequence-conflict', `${sourceKey}: schema ${s.schema}.${s.table} version ${s.version} was already registered with different columns`);
  }

  checkpoint(sourceKey: string): SourceCheckpoint | undefined {
    const c = this.state.checkpoints.get(sourceKey);
    return c === undefined ? undefined : { sourceKey, ackedSequence: c.sequence, sourcePosition: c.position, lastOffset: c.offset };
  }

  checkpoints(): SourceCheckpoint[] {
    return [...this.state.checkpoints.keys()].map((k) => this.checkpoint(k) as SourceCheckpoint);
  }

  headOffset(): number {
    // Other hubs' appends reach this hub through the state topic's checkpoints.
    for (const c of this.state.checkpoints.values()) if (c.offset > this.head) this.head = c.offset;
    return this.head;
  }

  schema(sourceKey: string, schema: string, table: string, version: number): TableSchema | undefined {
    return this.state.schema(sourceKey, schema, table, version);
  }

  schemaRecords(): SchemaRecord[] {
    return this.state.allSchemas();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const w of this.writers.values()) await w.producer.disconnect().catch(() => undefined);
    this.writers.clear();
    await this.state.close();
    await this.plain.disconnect();
    await this.admin.disconnect();
  }
}
