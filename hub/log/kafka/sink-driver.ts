/**
 * Drives one sink from the Kafka log: the sink is a consumer group on the
 * ingest topic (read_committed), so sink work moves between hubs sharing the
 * cluster. A chunk of batches is written, and only after the write is durable
 * is the group offset committed: a crash replays, never skips. The sink sees
 * the ingest topic's offsets as `lastOffset`, one dense partition, exactly as
 * it sees the embedded log's offsets.
 */
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { Backoff } from '../../backoff.js';
import { deadlineSignal } from '../../deadline.js';
import { HubError, retryDirective } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { HubMetrics } from '../../metrics.js';
import type { SinkRoutes } from '../../sinks/routes.js';
import type { Sink, SinkChange } from '../../sinks/sink.js';
import { freshnessStatus, NO_SERVER_POSITIONS, SinkFreshness, updateFreshnessMetrics, type FreshnessMark, type ServerPositions } from '../../sinks/freshness.js';
import type { SinkWorkerStatus } from '../../sinks/worker.js';
import { batchFreshness, decodeBatch } from './decode.js';
import type { KafkaChangeLog } from './kafka-log.js';
import { statePartition } from './state.js';
import { ingestTopic, sinkGroup } from './topics.js';

export class KafkaSinkDriver {
  private offset = -1;
  /** The sink's own record of what it applied (null: it keeps none); refreshed after every group join. */
  private applied: bigint | null = null;
  private refresh = true;
  private lastCommitTimeUs = 0;
  private appliedAt = 0;
  private failing = false;
  private lastError: string | null = null;
  private highWatermark = 0;
  private readonly freshness: SinkFreshness;

  constructor(
    private readonly sink: Sink,
    private readonly log: KafkaChangeLog,
    /** Sources routed to this sink, read on every chunk (pipelines change at run time). */
    private readonly sources: SinkRoutes,
    private readonly metrics: HubMetrics,
    private readonly logger: Logger,
    private readonly maxEventsPerWrite = 20_000,
    private readonly serverPositions: ServerPositions = NO_SERVER_POSITIONS,
  ) {
    this.freshness = new SinkFreshness(() => sources.list());
  }

  status(): SinkWorkerStatus {
    return {
      sink: this.sink.name,
      offset: Math.max(0, this.offset),
      lastCommitTimeUs: this.lastCommitTimeUs,
      appliedAt: this.appliedAt,
      failing: this.failing,
      lastError: this.lastError,
      ...freshnessStatus(this.freshness, this.serverPositions),
    };
  }

  /** Runs until the signal aborts; a fatal sink error rejects; a lost Kafka consumer is started again. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
    while (!signal.aborted) {
      try {
        await this.runConsumer(signal);
      } catch (e) {
        const err = this.recordFailure(e);
        if (retryDirective(err.kind) === 'fatal') throw err;
        await backoff.wait(signal);
      }
    }
  }

  private async runConsumer(signal: AbortSignal): Promise<void> {
    const consumer = this.log.kafka.consumer({
      groupId: sinkGroup(this.log.config.topicPrefix, this.sink.name),
      readUncommitted: false,
      // A crashed hub's member holds its partition until the session times out: short, so another hub takes over soon.
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 100,
    });
    let fatal: HubError | null = null;
    let stop = (): void => undefined;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
      signal.addEventListener('abort', () => resolve(), { once: true });
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (payload.restart) return;
        fatal = new HubError('log-unavailable', `sink ${this.sink.name}: the Kafka consumer stopped`, { cause: payload.error });
        resolve();
      });
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.refresh = true;
      this.logger.info('sink joined its consumer group', { sink: this.sink.name, group: payload.groupId, assigned: payload.memberAssignment });
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: ingestTopic(this.log.config.topicPrefix), fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async (payload) => {
          try {
            await this.batch(consumer, payload, signal);
          } catch (e) {
            if (e instanceof HubError && retryDirective(e.kind) === 'fatal') {
              fatal = e;
              stop();
            }
            throw e;
          }
        },
      });
      await stopped;
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
    if (fatal !== null) throw fatal;
  }

  private async batch(consumer: Consumer, p: EachBatchPayload, signal: AbortSignal): Promise<void> {
    const { batch } = p;
    this.highWatermark = Number(batch.highWatermark);
    let start = 0;
    while (start < batch.messages.length && p.isRunning() && !p.isStale() && !signal.aborted) {
      const chunk = this.chunk(batch.messages, start);
      if (chunk.length === 0) {
        // The next message is a paused pipeline's: wait right before it, heartbeating so the group keeps the partition.
        const wait = deadlineSignal(signal, 2_000);
        await this.sources.changed(wait.signal).finally(wait.clear);
        await p.heartbeat().catch(() => undefined);
        continue;
      }
      start += chunk.length;
      const last = chunk[chunk.length - 1] as KafkaMessage;
      // Not applied: the partition moved to another member meanwhile; it replays from the committed offset there.
      if (!(await this.apply(chunk, p, signal))) return;
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
      p.resolveOffset(last.offset);
      this.offset = Number(last.offset);
      this.updateMetrics();
    }
  }

  private chunk(messages: readonly KafkaMessage[], start: number): KafkaMessage[] {
    const out: KafkaMessage[] = [];
    let approxEvents = 0;
    for (let i = start; i < messages.length; i++) {
      const m = messages[i] as KafkaMessage;
      const key = m.key?.toString('utf8') ?? '';
      if (this.sources.has(key) && this.sources.held(key)) break;
      out.push(m);
      approxEvents += (m.value?.length ?? 0) / 64;
      if (approxEvents >= this.maxEventsPerWrite) break;
    }
    return out;
  }

  /** Writes a chunk, retrying with backoff (heartbeating, so the group keeps the partition) until it is durable. */
  private async apply(chunk: readonly KafkaMessage[], p: EachBatchPayload, signal: AbortSignal): Promise<boolean> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 30_000 });
    const last = BigInt((chunk[chunk.length - 1] as KafkaMessage).offset);
    for (;;) {
      try {
        if (this.refresh) {
          this.applied = await this.sink.open(signal);
          this.refresh = false;
        }
        const marks: FreshnessMark[] = [];
        const changes = await this.decode(chunk, marks);
        if (changes.length > 0) await this.sink.write({ changes, lastOffset: last }, signal);
        for (const m of marks) this.freshness.applied(m.sourceKey, m.position, m.sourceTimeUs);
        const newest = changes[changes.length - 1];
        if (newest !== undefined) this.lastCommitTimeUs = Number(newest.commitTimeUs);
        this.metrics.sinkEvents.inc({ sink: this.sink.name }, changes.length);
        this.appliedAt = Date.now();
        if (this.failing) this.logger.info('sink recovered', { sink: this.sink.name });
        this.failing = false;
        return true;
      } catch (e) {
        if (signal.aborted) return false;
        const err = this.recordFailure(e);
        if (retryDirective(err.kind) === 'fatal') throw err;
        await backoff.wait(signal);
        // A rebalance while waiting shows up here: the partition may belong to another hub now.
        await p.heartbeat().catch(() => undefined);
        if (!p.isRunning() || p.isStale() || signal.aborted) return false;
      }
    }
  }

  private async decode(chunk: readonly KafkaMessage[], marks: FreshnessMark[]): Promise<SinkChange[]> {
    const out: SinkChange[] = [];
    for (const m of chunk) {
      const sourceKey = m.key?.toString('utf8') ?? '';
      if (!this.sources.has(sourceKey) || m.value === null) continue;
      const onCommit = (position: bigint, sourceTimeUs: number): void => void marks.push({ sourceKey, position, sourceTimeUs });
      // Entries the sink recorded as applied are skipped (a replay after a crash starts exactly after them); their freshness still counts.
      if (this.applied !== null && BigInt(m.offset) <= this.applied) {
        const f = batchFreshness(m.value);
        if (f?.commit === true) onCommit(f.position, f.sourceTimeUs);
        continue;
      }
      const lookup = this.log.schema.bind(this.log, sourceKey);
      const where = `ingest offset ${m.offset}`;
      try {
        out.push(...decodeBatch(sourceKey, m.value, lookup, where, onCommit));
      } catch (e) {
        if (!(e instanceof HubError) || e.kind !== 'schema') throw e;
        // Written by another hub a moment ago: its schemas committed with the batch, so reading the state topic up to now finds them.
        await this.log.state.barrier(statePartition(sourceKey, this.log.state.partitions));
        out.push(...decodeBatch(sourceKey, m.value, lookup, where, onCommit));
      }
    }
    return out;
  }

  private recordFailure(e: unknown): HubError {
    const err = e instanceof HubError ? e : new HubError('internal', 'sink driver failed', { cause: e });
    this.failing = true;
    this.lastError = err.message;
    this.metrics.sinkErrors.inc({ sink: this.sink.name, kind: err.kind });
    this.logger.warn('sink write failed; will retry', { sink: this.sink.name, error: err, directive: retryDirective(err.kind) });
    return err;
  }

  updateMetrics(): void {
    const name = this.sink.name;
    const head = Math.max(this.highWatermark - 1, this.log.headOffset());
    this.metrics.sinkOffset.set({ sink: name }, Math.max(0, this.offset));
    this.metrics.sinkLagEntries.set({ sink: name }, Math.max(0, head - this.offset));
    updateFreshnessMetrics(this.metrics, name, this.freshness.sources(Date.now(), this.serverPositions));
  }
}
