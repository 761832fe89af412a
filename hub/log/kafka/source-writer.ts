/**
 * One source's transactional writer with group commit: batches queue in
 * sequence order while a transaction is in flight, and the next transaction
 * carries all of them (up to a size limit) — the fixed cost of a Kafka
 * transaction (AddPartitionsToTxn, the commit markers) is paid per group, not
 * per batch. Each batch's promise resolves only after the commit of the
 * transaction holding it; a failed transaction rejects every batch in it and
 * everything queued behind, and the writer is unusable from then on (the
 * agent reconnects, the source is claimed anew, and the resume point comes
 * from Kafka).
 */
import { Partitioners, type Message, type PartitionMetadata, type Producer, type TopicMessages } from 'kafkajs';
import { HubError } from '../../errors.js';
import { checkpointKey, checkpointValue, type StoredCheckpoint } from './state.js';

export interface PendingBatch {
  readonly sequence: number;
  readonly position: bigint;
  readonly hash: string;
  /** The ingest topic record. */
  readonly ingest: Message;
  /** Envelopes per table topic, and the schema records for the state topic. */
  readonly tables: readonly TopicMessages[];
  readonly schemas: readonly Message[];
}

interface Queued extends PendingBatch {
  resolve(offset: number): void;
  reject(e: Error): void;
}

export interface WriterTarget {
  readonly ingestTopic: string;
  readonly stateTopic: string;
  readonly statePartition: number;
  /** Creates missing table topics before a transaction uses them. */
  ensureTopics(topics: readonly string[]): Promise<void>;
  /** The partition count of a topic `ensureTopics` made sure of. */
  partitions(topic: string): number;
  /** Called after each commit with the newest checkpoint. */
  committed(c: StoredCheckpoint): void;
}

/** A group's records, roughly: several groups' worth of envelopes per transaction adds latency, not throughput. */
const MAX_GROUP_BYTES = 2 << 20;
/**
 * Records per produce request and partition stay under the broker's default
 * message.max.bytes (1 MiB), so topics created by others with default limits
 * take them; a single larger record goes alone (the hub's own topics allow 64 MiB).
 */
const MAX_REQUEST_BYTES = 900 << 10;

function sizeOf(m: Message): number {
  const v = m.value;
  return 64 + (typeof m.key === 'string' ? m.key.length : (m.key?.length ?? 0)) + (typeof v === 'string' ? v.length : (v?.length ?? 0));
}

/** The records in order, in chunks under MAX_REQUEST_BYTES each; a single larger record is a chunk of its own. */
export function requestChunks(messages: readonly Message[]): Message[][] {
  const chunks: Message[][] = [];
  let chunk: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const n = sizeOf(m);
    if (bytes + n > MAX_REQUEST_BYTES && chunk.length > 0) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += n;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * The topic's records as produce requests that each hold ONE partition, in
 * order per partition and under MAX_REQUEST_BYTES each (a single larger record
 * goes alone). A record without a partition gets `partitionOf`'s, set
 * explicitly.
 *
 * Why one partition per request: kafkajs keeps, across the retries of one
 * send, the answers of the brokers that already accepted their part. When a
 * partition's leader dies and leadership moves onto a broker that had already
 * answered, that partition's records would not be sent again, and the
 * transaction would commit without them. A request to one partition has one
 * broker: a retry sends it whole to the partition's leader of the moment, and
 * the idempotent sequence drops what that leader already holds.
 */
export function partitionRequests(t: TopicMessages, partitionOf: (m: Message) => number): TopicMessages[] {
  const byPartition = new Map<number, Message[]>();
  for (const m of t.messages) {
    const partition = m.partition ?? partitionOf(m);
    const list = byPartition.get(partition);
    if (list === undefined) byPartition.set(partition, [{ ...m, partition }]);
    else list.push({ ...m, partition });
  }
  return [...byPartition.values()].flatMap((messages) => requestChunks(messages).map((chunk) => ({ topic: t.topic, messages: chunk })));
}

/**
 * The partition kafkajs's default partitioner gives a record in a topic of
 * `count` partitions, all with a leader (murmur2 of the key, as the Java
 * client; round-robin without a key): records keep the partitions they had
 * when kafkajs chose them.
 */
export function defaultPartitioner(): (topic: string, count: number, m: Message) => number {
  const partition = Partitioners.DefaultPartitioner();
  const metadata = new Map<number, PartitionMetadata[]>();
  return (topic, count, message) => {
    let partitionMetadata = metadata.get(count);
    if (partitionMetadata === undefined) {
      partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0] }));
      metadata.set(count, partitionMetadata);
    }
    return partition({ topic, partitionMetadata, message });
  };
}

export class SourceWriter {
  private readonly queue: Queued[] = [];
  private draining = false;
  private broken: Error | null = null;
  private readonly partitioner = defaultPartitioner();

  constructor(
    readonly producer: Producer,
    private readonly sourceKey: string,
    private readonly target: WriterTarget,
    /** The next sequence this writer accepts. */
    public expected: number,
  ) {}

  get usable(): boolean {
    return this.broken === null;
  }

  /** Queues the batch (its sequence must be `expected`); resolves with its ingest offset once committed. */
  enqueue(b: PendingBatch): Promise<number> {
    if (this.broken !== null) return Promise.reject(this.broken);
    this.expected = b.sequence + 1;
    const done = new Promise<number>((resolve, reject) => this.queue.push({ ...b, resolve, reject }));
    if (!this.draining) void this.drain();
    return done;
  }

  private take(): Queued[] {
    const group: Queued[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && (group.length === 0 || bytes < MAX_GROUP_BYTES)) {
      const b = this.queue.shift() as Queued;
      bytes += sizeOf(b.ingest) + b.tables.reduce((n, t) => n + t.messages.reduce((k, m) => k + sizeOf(m), 0), 0);
      group.push(b);
    }
    return group;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length > 0 && this.broken === null) {
      const group = this.take();
      try {
        const offsets = await this.write(group);
        group.forEach((b, i) => b.resolve(offsets[i] as number));
      } catch (cause) {
        const why = cause instanceof Error ? cause.message : String(cause);
        this.broken = new HubError('log-unavailable', `${this.sourceKey}: writing sequences ${group[0]?.sequence}..${group[group.length - 1]?.sequence} to Kafka failed: ${why}`, { cause });
        for (const b of [...group, ...this.queue.splice(0)]) b.reject(this.broken);
        await this.producer.disconnect().catch(() => undefined);
      }
    }
    this.draining = false;
  }

  private async write(group: readonly Queued[]): Promise<number[]> {
    const last = group[group.length - 1] as Queued;
    const byTopic = new Map<string, Message[]>();
    for (const b of group) {
      for (const t of b.tables) {
        const list = byTopic.get(t.topic);
        if (list === undefined) byTopic.set(t.topic, [...t.messages]);
        else list.push(...t.messages);
      }
    }
    await this.target.ensureTopics([...byTopic.keys()]);
    const txn = await this.producer.transaction();
    try {
      // Each produce request to the single ingest partition appends its records at consecutive offsets.
      const offsets: number[] = [];
      for (const request of partitionRequests({ topic: this.target.ingestTopic, messages: group.map((b) => b.ingest) }, () => 0)) {
        const [meta] = await txn.send(request);
        const base = Number(meta?.baseOffset ?? Number.NaN);
        if (!Number.isFinite(base)) throw new Error('the ingest topic returned no offset');
        request.messages.forEach((_, i) => offsets.push(base + i));
      }
      const base = offsets[offsets.length - 1] as number;
      const checkpoint: StoredCheckpoint = { sequence: last.sequence, position: last.position, offset: base, hash: last.hash };
      const state: Message[] = group.flatMap((b) => b.schemas.map((m) => ({ ...m, partition: this.target.statePartition })));
      state.push({ partition: this.target.statePartition, key: checkpointKey(this.sourceKey), value: checkpointValue(checkpoint) });
      const topics: TopicMessages[] = [...[...byTopic].map(([topic, messages]) => ({ topic, messages })), { topic: this.target.stateTopic, messages: state }];
      // State records carry their partition; table records get the one kafkajs would have chosen.
      for (const t of topics) for (const request of partitionRequests(t, (m) => this.partitioner(t.topic, this.target.partitions(t.topic), m))) await txn.send(request);
      await txn.commit();
      this.target.committed(checkpoint);
      return offsets;
    } catch (e) {
      await txn.abort().catch(() => undefined);
      throw e;
    }
  }
}
