import type { TableSchema } from '../../proto/gen/tributary/v1/change_pb.js';
import type { Value } from '../../proto/tributary/v1/row-codec.js';

export type ChangeOp = 'insert' | 'update' | 'delete' | 'truncate' | 'read';

/** Where a change sits in its source: commit position, then order inside the transaction. */
export interface ChangePosition {
  readonly commit: bigint;
  readonly index: number;
}

/** One decoded change, as a sink sees it. Values follow `schema.columns` order. */
export interface SinkChange {
  readonly sourceKey: string;
  readonly op: ChangeOp;
  readonly schema: TableSchema;
  /** Primary-key values, in key column order (columns with `key` set, in column order). */
  readonly key: readonly Value[];
  readonly before: readonly Value[] | null;
  /** Full new row for insert/update/read; may hold UNCHANGED for TOAST values not sent. */
  readonly after: readonly Value[] | null;
  readonly position: ChangePosition;
  readonly commitTimeUs: bigint;
  readonly txid: bigint;
}

export interface SinkBatch {
  readonly changes: readonly SinkChange[];
  /** Hub log offset of the last log entry this batch covers. */
  readonly lastOffset: bigint;
}

/**
 * When a driver should close a micro-batch: at `maxEvents` changes, or
 * `maxDelayMs` after the batch's first change reached the log.
 */
export interface FlushPolicy {
  readonly maxEvents: number;
  readonly maxDelayMs: number;
}

/**
 * A destination. At-least-once in, effectively-once out: `write` may see a
 * change again after a crash, and must apply it so that the destination does
 * not move backwards (guard every row by its source position).
 */
export interface Sink extends AsyncDisposable {
  readonly name: string;
  /** How this sink prefers its batches cut (absent: the driver's defaults). */
  readonly flush?: FlushPolicy;
  /**
   * Prepares the destination and returns the log offset it has durably
   * applied, when the destination records it itself (null when it does not:
   * the hub's own offset store is used then).
   */
  open(signal: AbortSignal): Promise<bigint | null>;
  /**
   * Applies a batch. Resolves only when the changes are durable at the
   * destination (and, for sinks that record their offset, `lastOffset` with
   * them in the same transaction). Rejects with a HubError whose kind says
   * whether to retry.
   */
  write(batch: SinkBatch, signal: AbortSignal): Promise<void>;
}
