/**
 * One worker per sink: reads the log from the sink's own offset, decodes the
 * batches routed to it, writes them, and moves the offset only after the
 * write is durable. Failures retry with backoff; a sink that keeps failing
 * falls behind alone — ingest and the other sinks never wait for it.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { ChangeBatchSchema, Op } from '../../proto/gen/tributary/v1/change_pb.js';
import { decodeRow } from '../../proto/tributary/v1/row-codec.js';
import { Backoff } from '../backoff.js';
import { deadlineSignal } from '../deadline.js';
import { HubError, retryDirective } from '../errors.js';
import type { Logger } from '../log.js';
import type { ChangeLog, LogEntry } from '../log/change-log.js';
import type { HubMetrics } from '../metrics.js';
import { freshnessStatus, NO_SERVER_POSITIONS, SinkFreshness, sourceTimeOf, updateFreshnessMetrics, type FreshnessMark, type ServerPositions, type SourceLag } from './freshness.js';
import type { SinkRoutes } from './routes.js';
import type { ChangeOp, Sink, SinkChange } from './sink.js';

const OPS: Partial<Record<Op, ChangeOp>> = {
  [Op.INSERT]: 'insert',
  [Op.UPDATE]: 'update',
  [Op.DELETE]: 'delete',
  [Op.TRUNCATE]: 'truncate',
  [Op.READ]: 'read',
};

export interface SinkWorkerStatus {
  readonly sink: string;
  readonly offset: number;
  readonly lastCommitTimeUs: number;
  readonly appliedAt: number;
  readonly failing: boolean;
  readonly lastError: string | null;
  /** Worst freshness over the sink's sources (freshness.ts), seconds; null until measured. */
  readonly lagSeconds: number | null;
  /** Worst source-log bytes behind over the sink's sources; null until measured. */
  readonly lagBytes: number | null;
  readonly sources: readonly SourceLag[];
}

export class SinkWorker {
  private offset = 0;
  private lastCommitTimeUs = 0;
  private appliedAt = 0;
  private failing = false;
  private lastError: string | null = null;
  private readonly freshness: SinkFreshness;
  /** Set by gather: the next entry belongs to a paused source, so the sink waits right before it. */
  private held = false;

  constructor(
    private readonly sink: Sink,
    private readonly log: ChangeLog,
    /** Sources routed to this sink, read on every batch (pipelines change at run time). */
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
      offset: this.offset,
      lastCommitTimeUs: this.lastCommitTimeUs,
      appliedAt: this.appliedAt,
      failing: this.failing,
      lastError: this.lastError,
      ...freshnessStatus(this.freshness, this.serverPositions),
    };
  }

  /** Decodes the entries routed to this sink; `marks` receives each batch's freshness. */
  decode(entries: readonly LogEntry[], marks: FreshnessMark[] = []): SinkChange[] {
    const out: SinkChange[] = [];
    for (const entry of entries) {
      if (!this.sources.has(entry.sourceKey)) continue;
      const batch = fromBinary(ChangeBatchSchema, entry.bytes);
      if (batch.commitBoundary) marks.push({ sourceKey: entry.sourceKey, position: batch.sourcePosition, sourceTimeUs: sourceTimeOf(batch) });
      for (const e of batch.events) {
        const schema = this.log.schema(entry.sourceKey, e.schema, e.table, e.schemaVersion);
        if (schema === undefined)
          throw new HubError('schema', `${entry.sourceKey}: no schema ${e.schema}.${e.table} version ${e.schemaVersion} (log offset ${entry.offset})`);
        const op = OPS[e.op];
        if (op === undefined) throw new HubError('malformed', `${entry.sourceKey}: unknown op ${e.op} at log offset ${entry.offset}`);
        out.push({
          sourceKey: entry.sourceKey,
          op,
          schema,
          key: e.key.length > 0 ? decodeRow(e.key) : [],
          before: e.before.length > 0 ? decodeRow(e.before) : null,
          after: e.after.length > 0 ? decodeRow(e.after) : null,
          position: { commit: e.commitPosition, index: e.indexInTx },
          commitTimeUs: e.commitTimeUs,
          txid: e.txid,
        });
      }
    }
    return out;
  }

  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 30_000 });
    const name = this.sink.name;
    while (!signal.aborted) {
      try {
        const stored = await this.sink.open(signal);
        this.offset = stored === null ? this.log.sinkOffset(name) : Number(stored);
        break;
      } catch (e) {
        this.recordFailure(e);
        await backoff.wait(signal);
      }
    }
    while (!signal.aborted) {
      const entries = await this.gather(signal);
      if (entries.length === 0 && this.held) {
        await this.sources.changed(signal);
        continue;
      }
      if (entries.length === 0) {
        await this.log.waitFor(this.offset, signal);
        // The log may count an entry before a read can see it (its write commits on a later turn of
        // the event loop): yield a full turn so waiting never becomes a busy loop that starves it.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const last = entries[entries.length - 1] as LogEntry;
      try {
        const marks: FreshnessMark[] = [];
        const changes = this.decode(entries, marks);
        if (changes.length > 0) await this.sink.write({ changes, lastOffset: BigInt(last.offset) }, signal);
        await this.log.commitSinkOffset(name, last.offset);
        this.offset = last.offset;
        for (const m of marks) this.freshness.applied(m.sourceKey, m.position, m.sourceTimeUs);
        const newest = changes[changes.length - 1];
        if (newest !== undefined) this.lastCommitTimeUs = Number(newest.commitTimeUs);
        this.appliedAt = Date.now();
        this.metrics.sinkEvents.inc({ sink: name }, changes.length);
        if (this.failing) this.logger.info('sink recovered', { sink: name });
        this.failing = false;
        backoff.reset();
      } catch (e) {
        if (signal.aborted) return;
        const err = this.recordFailure(e);
        if (retryDirective(err.kind) === 'fatal') throw err;
        await backoff.wait(signal);
      }
      this.updateMetrics();
    }
  }

  /**
   * One micro-batch: the log entries after the offset, until about
   * `maxEvents` changes, waiting for more up to `maxDelayMs` after the first
   * entry reached the log. A backlog therefore goes out in full batches at
   * once; a trickle waits at most `maxDelayMs`.
   */
  private async gather(signal: AbortSignal): Promise<LogEntry[]> {
    const maxEvents = Math.min(this.sink.flush?.maxEvents ?? this.maxEventsPerWrite, this.maxEventsPerWrite);
    const out: LogEntry[] = [];
    let approxEvents = 0;
    this.held = false;
    const take = (): boolean => {
      const from = (out[out.length - 1]?.offset ?? this.offset) + 1;
      for (const e of this.log.read(from, 256)) {
        // A paused pipeline's source: stop right before it, so its changes are applied from here on resume.
        if (this.sources.has(e.sourceKey) && this.sources.held(e.sourceKey)) {
          this.held = true;
          return true;
        }
        out.push(e);
        approxEvents += e.bytes.length / 64;
        if (approxEvents >= maxEvents) return true;
      }
      return false;
    };
    if (take() || out.length === 0) return out;
    const first = out[0] as LogEntry;
    const dueMs = first.ingestedAtUs / 1000 + (this.sink.flush?.maxDelayMs ?? 0);
    while (!signal.aborted && Date.now() < dueMs) {
      const wait = deadlineSignal(signal, Math.max(1, Math.ceil(dueMs - Date.now())));
      try {
        await this.log.waitFor((out[out.length - 1] as LogEntry).offset, wait.signal);
      } finally {
        wait.clear();
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (take()) break;
    }
    return out;
  }

  private recordFailure(e: unknown): HubError {
    const err = e instanceof HubError ? e : new HubError('internal', 'sink worker failed', { cause: e });
    this.failing = true;
    this.lastError = err.message;
    this.metrics.sinkErrors.inc({ sink: this.sink.name, kind: err.kind });
    this.logger.warn('sink write failed; will retry', { sink: this.sink.name, error: err, directive: retryDirective(err.kind) });
    return err;
  }

  updateMetrics(): void {
    const name = this.sink.name;
    this.metrics.sinkOffset.set({ sink: name }, this.offset);
    this.metrics.sinkLagEntries.set({ sink: name }, Math.max(0, this.log.headOffset() - this.offset));
    updateFreshnessMetrics(this.metrics, name, this.freshness.sources(Date.now(), this.serverPositions));
  }
}
