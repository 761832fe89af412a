/**
 * The hub's view of the compacted state topic: source checkpoints and table
 * schemas, tailed with read_committed from the start. A barrier (a record the
 * hub writes into a partition, then waits to read back) proves the view holds
 * everything committed to that partition before the barrier — including what
 * other hubs wrote.
 */
import { randomUUID } from 'node:crypto';
import { fromBinary } from '@bufbuild/protobuf';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { TableSchemaSchema, type TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { HubError } from '../../errors.js';
import type { Logger } from '../../log.js';

export interface StoredCheckpoint {
  readonly sequence: number;
  readonly position: bigint;
  /** Offset of the batch in the ingest topic. */
  readonly offset: number;
  /** sha-256 (first 16 bytes, hex) of the batch: a retransmission of it is told apart from a conflicting one. */
  readonly hash: string;
}

const CHECKPOINT = 'c';
const SCHEMA = 's';
const BARRIER = 'b';
const SEP = '\u0000';
/** Header of a schema record: when a hub first stored the version (µs), carried on every rewrite so compaction cannot lose it. */
export const FIRST_SEEN_HEADER = 'tributary.first-seen-us';

export function checkpointKey(sourceKey: string): string {
  return [CHECKPOINT, sourceKey].join(SEP);
}

export function schemaKey(sourceKey: string, s: Pick<TableSchema, 'schema' | 'table' | 'version'>): string {
  return [SCHEMA, sourceKey, s.schema, s.table, String(s.version)].join(SEP);
}

export function checkpointValue(c: StoredCheckpoint): string {
  return JSON.stringify({ sequence: c.sequence, position: c.position.toString(), offset: c.offset, hash: c.hash });
}

/** FNV-1a: the state partition of a source, the same in every hub. */
export function statePartition(sourceKey: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < sourceKey.length; i++) h = Math.imul(h ^ sourceKey.charCodeAt(i), 0x01000193) >>> 0;
  return h % partitions;
}

export class StateView {
  readonly checkpoints = new Map<string, StoredCheckpoint>();
  private readonly schemas = new Map<string, TableSchema>();
  private readonly firstSeen = new Map<string, number>();
  private readonly seen = new Map<number, number>();
  private readonly waiters = new Set<() => void>();
  private consumer: Consumer | null = null;
  private failure: Error | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    readonly partitions: number,
    private readonly producer: Producer,
    private readonly hubId: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts tailing from the beginning. It does not wait to be caught up: a
   * partition may hold a transaction left open by a crashed hub until that
   * source is claimed again or the transaction times out; `barrier` waits
   * where an exact view is needed.
   */
  async start(): Promise<void> {
    // A fresh group per process: it only tails, never commits, so it always starts at the beginning.
    const consumer = this.kafka.consumer({ groupId: `${this.topic}-reader-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100, sessionTimeout: 30_000 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      // A retriable failure (a broker away) restarts the reader from its position; barriers wait meanwhile.
      if (payload.restart) return;
      this.failure = payload.error;
      this.logger.error('state topic reader stopped', { error: payload.error });
      for (const w of [...this.waiters]) w();
    });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        this.apply(message.key?.toString('utf8') ?? '', message.value, message.headers?.[FIRST_SEEN_HEADER]?.toString() ?? message.timestamp);
        this.seen.set(partition, Math.max(this.seen.get(partition) ?? -1, Number(message.offset)));
        for (const w of [...this.waiters]) w();
      },
    });
  }

  private apply(key: string, value: Buffer | null, seen: string): void {
    const [kind, sourceKey = ''] = key.split(SEP, 2);
    if (value === null) return;
    if (kind === CHECKPOINT) {
      const v = JSON.parse(value.toString('utf8')) as { sequence: number; position: string; offset: number; hash: string };
      this.noteCheckpoint(sourceKey, { sequence: v.sequence, position: BigInt(v.position), offset: v.offset, hash: v.hash });
    } else if (kind === SCHEMA) {
      this.schemas.set(key, fromBinary(TableSchemaSchema, value));
      const us = Number(seen) * (seen.length > 14 ? 1 : 1000);
      const known = this.firstSeen.get(key);
      if (Number.isFinite(us) && us > 0 && (known === undefined || us < known)) this.firstSeen.set(key, us);
    }
  }

  /** A schema this hub just committed: known at once, before the reader gets to it. */
  noteSchema(sourceKey: string, s: TableSchema): void {
    const key = schemaKey(sourceKey, s);
    this.schemas.set(key, s);
    if (!this.firstSeen.has(key)) this.firstSeen.set(key, Math.round((performance.timeOrigin + performance.now()) * 1000));
  }

  /** When the version was first stored (µs); 0 when unknown. */
  firstSeenUs(sourceKey: string, s: Pick<TableSchema, 'schema' | 'table' | 'version'>): number {
    return this.firstSeen.get(schemaKey(sourceKey, s)) ?? 0;
  }

  /** Every schema version read or written so far, with its source key. */
  allSchemas(): { sourceKey: string; schema: TableSchema; firstSeenUs: number }[] {
    return [...this.schemas].map(([key, schema]) => ({ sourceKey: key.split(SEP)[1] ?? '', schema, firstSeenUs: this.firstSeen.get(key) ?? 0 }));
  }

  /** Fencing gives each source one writer at a time, so its checkpoints only move forward: an older one read late is ignored. */
  noteCheckpoint(sourceKey: string, c: StoredCheckpoint): void {
    const known = this.checkpoints.get(sourceKey);
    if (known === undefined || known.sequence <= c.sequence) this.checkpoints.set(sourceKey, c);
  }

  schema(sourceKey: string, schema: string, table: string, version: number): TableSchema | undefined {
    return this.schemas.get(schemaKey(sourceKey, { schema, table, version }));
  }

  /**
   * Writes a marker into `partition` and resolves once the reader has read
   * it: read_committed delivers it only after every transaction that was open
   * on the partition before it has committed or aborted.
   */
  async barrier(partition: number, timeoutMs = 120_000): Promise<void> {
    const [meta] = await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ partition, key: [BARRIER, this.hubId, String(partition)].join(SEP), value: '' }],
    });
    const target = Number(meta?.baseOffset ?? Number.NaN);
    if (!Number.isFinite(target)) throw new HubError('log-unavailable', `no offset for the barrier in ${this.topic} partition ${partition}`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new HubError('log-unavailable', `${this.topic} partition ${partition}: not read up to offset ${target} within ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        if (this.failure !== null) finish(new HubError('log-unavailable', 'the state topic reader stopped', { cause: this.failure }));
        else if ((this.seen.get(partition) ?? -1) >= target) finish(null);
      };
      const finish = (err: Error | null): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err === null) resolve();
        else reject(err);
      };
      this.waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    for (const w of [...this.waiters]) w();
    await this.consumer?.disconnect();
  }
}
