/**
 * Hands a source's captured transactions to the spool, for every source:
 * complete transactions are gathered and written together once per
 * event-loop turn (or when a batch is full), each write carrying the source's
 * resume state when it has one; a transaction larger than a batch is written
 * in pieces that stay invisible until its end. A commit position is
 * confirmed to the source only after the batch ending it is durable, and
 * never after a failed write. Reading pauses while too many bytes await their
 * fsync (the spool's pace, not the server's send rate, bounds memory), and
 * while the spool is full (back-pressure: the database keeps its log).
 */
import type { BatchBuilder, BatchLimit } from './batch-builder.js';
import { BatchBuilder as Builder } from './batch-builder.js';
import type { ChangeBuffer, SchemaVersionRecord } from './change-buffer.js';
import { AgentError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SnapshotRecord } from '../snapshot/snapshot-record.js';

/** A snapshot record written with the batch that ends its transaction, and who to tell once that batch is durable. */
interface PendingSnapshot {
  readonly record: SnapshotRecord;
  readonly durable: () => void;
}

export interface SpoolTarget {
  /** Everything up to this commit position is durable in the spool. */
  confirm(position: bigint): void;
  pause(): void;
  resume(): void;
  /** Ends the source's session (after a failure). */
  stop(): void;
}

/** Bytes handed to the spool but not flushed, above which reading pauses. */
const MAX_IN_FLIGHT_BYTES = 8 << 20;

export class SpoolWriter {
  private readonly committed = new Builder();
  private committedVersions: SchemaVersionRecord[] = [];
  private openVersions: SchemaVersionRecord[] = [];
  private committedSnapshots: PendingSnapshot[] = [];
  private openSnapshots: PendingSnapshot[] = [];
  private lastPosition = 0n;
  private lastState: (() => string) | undefined = undefined;
  /** Source clock at the newest gathered commit (freshness, ChangeBatch.source_time_us). */
  private lastSourceTimeUs = 0;
  private pendingCommit = false;
  private flushScheduled = false;
  private inFlight = 0;
  private inFlightBytes = 0;
  private pausedForSpool = false;
  private failure: AgentError | null = null;

  constructor(
    private readonly buffer: ChangeBuffer,
    private readonly target: SpoolTarget,
    private readonly log: Logger,
    private readonly signal: AbortSignal,
  ) {
    this.lastPosition = buffer.state().committedPosition;
  }

  get error(): AgentError | null {
    return this.failure;
  }
  get backPressure(): boolean {
    return this.pausedForSpool;
  }
  get idle(): boolean {
    return this.failure === null && !this.flushScheduled && this.inFlight === 0 && !this.pendingCommit && !this.pausedForSpool;
  }

  /** A schema version introduced by the open transaction (stored with the batch that ends it). */
  addVersion(v: SchemaVersionRecord): void {
    this.openVersions.push(v);
  }

  /**
   * A snapshot chunk's record, added to the open transaction: stored in the
   * same spool write as the batch that ends it; `durable` runs once that
   * write is flushed (never after a failed one).
   */
  addSnapshot(record: SnapshotRecord, durable: () => void): void {
    this.openSnapshots.push({ record, durable });
  }

  /**
   * The open transaction ended at `position`; `state`, for sources that keep
   * one, gives its resume state (computed only when written). `sourceTimeUs`
   * is the source's clock at that commit (a heartbeat's commit included),
   * carried with the batch so every reader knows how fresh it is.
   */
  commit(open: BatchBuilder, position: bigint, state: (() => string) | undefined, limit: BatchLimit, sourceTimeUs = 0): void {
    this.committed.absorb(open);
    this.committedVersions.push(...this.openVersions);
    this.openVersions = [];
    this.committedSnapshots.push(...this.openSnapshots);
    this.openSnapshots = [];
    this.lastPosition = position;
    this.lastState = state;
    if (sourceTimeUs > this.lastSourceTimeUs) this.lastSourceTimeUs = sourceTimeUs;
    this.pendingCommit = true;
    if (this.committed.reached(limit)) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** A large transaction: spool what is committed, then the open part, invisible until its end. */
  partial(open: BatchBuilder): void {
    if (this.pendingCommit) this.flush();
    this.write(open.build(this.lastPosition, false), null, [], undefined, []);
  }

  flush(): void {
    if (!this.pendingCommit) return;
    this.pendingCommit = false;
    const versions = this.committedVersions;
    this.committedVersions = [];
    const sourceTimeUs = this.lastSourceTimeUs;
    this.lastSourceTimeUs = 0;
    const snapshots = this.committedSnapshots;
    this.committedSnapshots = [];
    this.write(this.committed.build(this.lastPosition, true, sourceTimeUs), this.lastPosition, versions, this.lastState?.(), snapshots);
  }

  private write(body: Uint8Array, end: bigint | null, versions: SchemaVersionRecord[], state: string | undefined, snapshots: PendingSnapshot[]): void {
    this.inFlight++;
    this.inFlightBytes += body.length;
    if (this.inFlightBytes > MAX_IN_FLIGHT_BYTES) this.target.pause();
    const appended = this.buffer.append(body, end, versions, state, snapshots.map((p) => p.record));
    if (this.buffer.isFull()) this.checkRoom();
    appended.then(
      () => {
        this.inFlight--;
        this.inFlightBytes -= body.length;
        if (end !== null && this.failure === null) this.target.confirm(end);
        for (const p of snapshots) p.durable();
        this.checkRoom();
      },
      (cause: unknown) => {
        this.inFlight--;
        this.fail(new AgentError('spool-corrupt', 'writing to the spool failed', { cause }));
      },
    );
  }

  private checkRoom(): void {
    if (this.buffer.isFull()) {
      if (!this.pausedForSpool) {
        this.pausedForSpool = true;
        const s = this.buffer.state();
        this.log.error('spool is full: stopped reading the source until the hub acknowledges more (the database keeps its log meanwhile)', {
          spoolBytes: s.bytes,
          maxBytes: s.maxBytes,
        });
        this.target.pause();
        void this.buffer.waitForRoom(this.signal).then(() => {
          this.pausedForSpool = false;
          this.log.warn('spool has room again: reading resumed');
          this.target.resume();
        });
      }
      return;
    }
    if (this.inFlightBytes <= MAX_IN_FLIGHT_BYTES / 4 && !this.pausedForSpool) this.target.resume();
  }

  /** Resolves when every append handed to the spool has settled. */
  async drain(): Promise<void> {
    while (this.inFlight > 0 || this.flushScheduled) await new Promise((r) => setTimeout(r, 5));
  }

  /** Records the first failure and ends the session: nothing is confirmed after it. */
  fail(error: AgentError): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.target.stop();
  }
}
