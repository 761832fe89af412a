import type { TableSchema } from '../../proto/gen/tributary/v1/change_pb.js';

/** One ingested batch in the hub log. */
export interface LogEntry {
  readonly offset: number;
  readonly sourceKey: string;
  readonly sequence: number;
  /** The ChangeBatch bytes exactly as the agent sent them. */
  readonly bytes: Uint8Array;
  /** When the hub wrote it, microseconds since the Unix epoch (for lag and latency). */
  readonly ingestedAtUs: number;
}

export interface SourceCheckpoint {
  readonly sourceKey: string;
  readonly ackedSequence: number;
  readonly sourcePosition: bigint;
  readonly lastOffset: number;
}

export type AppendResult = 'appended' | 'duplicate';

/** One stored version of a table's schema, as the log holds it. */
export interface SchemaRecord {
  readonly sourceKey: string;
  readonly schema: TableSchema;
  /** When the hub first stored this version, microseconds since the Unix epoch (0: not recorded). */
  readonly firstSeenUs: number;
}

/**
 * The part of the hub's log that ingest and the API use (every log kind).
 *
 * Order: offsets increase in append order; batches of one source appear in
 * sequence order. Durability: `append` resolves only once the batch, its
 * source checkpoint and its schemas are durable together, so the hub may
 * then acknowledge the sequence to the agent.
 */
export interface IngestLog extends AsyncDisposable {
  /**
   * Called when an agent's stream for `sourceKey` opens, before its resume
   * point is read. A log shared by several hubs fences every other writer of
   * the source here and catches up on its checkpoint; resolves when
   * `checkpoint(sourceKey)` is final. Logs owned by one hub omit it.
   */
  claimSource?(sourceKey: string): Promise<void>;
  /**
   * True: `append` may be called again before the previous call resolved
   * (batches are applied in call order, and may share one write). Otherwise
   * ingest waits for each append before the next.
   */
  readonly concurrentAppends?: boolean;
  /**
   * Appends batch `sequence` of `sourceKey`. A sequence already held with the
   * same bytes resolves 'duplicate' (retransmission after a reconnect); with
   * different bytes it rejects HubError('sequence-conflict'); a sequence past
   * the next expected one rejects HubError('sequence-gap').
   */
  append(sourceKey: string, sequence: number, sourcePosition: bigint, bytes: Uint8Array, schemas: readonly TableSchema[]): Promise<AppendResult>;
  checkpoint(sourceKey: string): SourceCheckpoint | undefined;
  checkpoints(): SourceCheckpoint[];
  /** Offset of the newest entry (0 when empty). */
  headOffset(): number;
  schema(sourceKey: string, schema: string, table: string, version: number): TableSchema | undefined;
  /** Every schema version the log holds (the log is the schema history: nothing else stores it). */
  schemaRecords(): SchemaRecord[];
}

/**
 * The hub's embedded log: one dense offset space read by the sink workers,
 * with each sink's offset stored beside it. Offsets are dense.
 */
export interface ChangeLog extends IngestLog {
  /** Entries with offset >= `from`, at most `max`. */
  read(from: number, max: number): LogEntry[];
  /** Resolves once an entry with offset > `after` exists, or the signal aborts. */
  waitFor(after: number, signal: AbortSignal): Promise<void>;
  /** A sink's committed offset (entries <= it are applied durably), or 0. */
  sinkOffset(sink: string): number;
  /** Records a sink's offset; durable when it resolves. */
  commitSinkOffset(sink: string, offset: number): Promise<void>;
  /** Deletes entries every registered sink has passed. */
  compact(sinks: readonly string[]): Promise<number>;
}
