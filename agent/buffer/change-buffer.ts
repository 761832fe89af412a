import type { SnapshotRecord } from '../snapshot/snapshot-record.js';

/** One spooled batch: its dense sequence and its ChangeBatch wire bytes (sequence included). */
export interface SpooledBatch {
  readonly sequence: number;
  readonly bytes: Uint8Array;
}

/**
 * The version a table's schema has, stored with the batch that ends the
 * transaction introducing it, so a version exists iff its batch is spooled.
 */
export interface SchemaVersionRecord {
  readonly tableKey: string;
  readonly version: number;
  readonly fingerprint: string;
}

export interface ChangeBufferState {
  /** Lowest sequence still held (acked batches below it are gone). */
  readonly firstSequence: number;
  /** Highest sequence visible to readers: the last batch that ended a source transaction. */
  readonly committedSequence: number;
  /** Source position (commit end) that is durably contained up to `committedSequence`. */
  readonly committedPosition: bigint;
  /**
   * The source's own resume state stored with the batch that set
   * `committedPosition` (MySQL: GTID set and binlog file/position), or null
   * when the source stores none.
   */
  readonly sourceState?: string | null;
  /** Highest sequence the hub acknowledged. */
  readonly ackedSequence: number;
  readonly bytes: number;
  readonly maxBytes: number;
}

/**
 * The agent's durable spool between the source and the uplink.
 *
 * Order: sequences are dense (1, 2, 3, ...) and assigned in `append` call
 * order. Visibility: a batch is visible to `read` once a batch at or after it
 * ended a source transaction (commitBoundary); batches of a transaction that
 * has not committed yet are on disk but invisible, and are discarded on
 * restart (the source resends that transaction from its beginning).
 */
export interface ChangeBuffer extends AsyncDisposable {
  state(): ChangeBufferState;
  /**
   * Appends one batch body (ChangeBatch fields other than `sequence`).
   * Resolves when the batch is flushed to disk (fsync), together with
   * `position` when it ends a transaction — only then may the source confirm
   * that position upstream. Resolves with the assigned sequence.
   * `sourceState`, when given with a boundary, is stored in the same LMDB
   * transaction as the batch and `endsTransactionAt`, so the resume state
   * never runs ahead of (or behind) the events it covers. `snapshots`
   * (snapshot progress records, one per table) are stored in that same
   * transaction: a chunk's progress is durable exactly when its rows are.
   */
  append(
    body: Uint8Array,
    endsTransactionAt: bigint | null,
    schemaVersions?: readonly SchemaVersionRecord[],
    sourceState?: string,
    snapshots?: readonly SnapshotRecord[],
  ): Promise<number>;
  /** Every stored snapshot record (one per table ever snapshotted). */
  snapshotRecords(): SnapshotRecord[];
  /** Stores a snapshot record on its own (a state change without rows); resolves once flushed. */
  putSnapshotRecord(record: SnapshotRecord): Promise<void>;
  /** The latest schema version recorded for a table key, if any. */
  schemaVersion(tableKey: string): SchemaVersionRecord | undefined;
  /**
   * Drops batches of a transaction that did not commit (after a source
   * session ended mid-transaction); the source resends it whole. Call only
   * when no append is in flight.
   */
  discardUncommitted(): Promise<void>;
  /** Visible batches with sequence >= `from`, at most `maxBatches` / about `maxBytes`. */
  read(from: number, maxBatches: number, maxBytes: number): SpooledBatch[];
  /** Resolves once a batch with sequence > `after` is visible, or the signal aborts. */
  waitFor(after: number, signal: AbortSignal): Promise<void>;
  /**
   * Forgets batches <= `sequence` (the hub holds them durably). Need not be
   * flushed before resolving: a lost trim only makes the agent resend, and
   * the hub drops what it already has.
   */
  acknowledge(sequence: number): Promise<void>;
  /** True while the spool holds `maxBytes` or more: the source must stop reading. */
  isFull(): boolean;
  /** Resolves when the spool has room again (after acknowledgements), or the signal aborts. */
  waitForRoom(signal: AbortSignal): Promise<void>;
}
