/**
 * The contract between the snapshot engine (agent/snapshot/engine.ts) and a
 * source (PostgreSQL, MySQL). The engine is Netflix DBLog's watermark
 * algorithm; it knows nothing of SQL dialects or log formats. A source plugs
 * in by supplying three things and calling four hooks.
 *
 * What the source supplies (`SnapshotSource`):
 * - `describe(table)`: the key columns (primary key, in index order) and a
 *   row estimate, or a `noKey` answer for a table without a primary key;
 * - `readChunk(table, after, limit)`: one SELECT of at most `limit` rows whose
 *   key is greater than `after` (null: from the start) in key order — keyset
 *   pagination on the whole key tuple, never OFFSET. Rows come back already
 *   encoded exactly as the stream encodes the same row (same key bytes, same
 *   typed values), plus the key as text for the next chunk's `after`;
 * - `writeWatermark(id)`: writes a watermark carrying `id` into the source's
 *   log (PostgreSQL: a logical decoding message; MySQL: a signal-table row)
 *   and resolves once it is committed.
 *
 * What the source calls, from its capture, synchronously and in log commit
 * order (`SnapshotHooks`, implemented by the engine):
 * - `changed(table, key)` for every row change (insert, update: old and new
 *   key, delete) of a table, with the encoded key;
 * - `truncated(table)` for a truncate;
 * - `watermark(id)` when a watermark is seen. For a high watermark it returns
 *   a `SnapshotEmission`: the chunk rows that the log did not change inside
 *   the window. The source writes them into the spool right there, as
 *   `op = READ` events at the watermark's own log position (after every
 *   change committed before it, before every change committed after it), and
 *   stores `emission.record` with the batch that ends that position (the same
 *   spool write: `ChangeBuffer.append(..., snapshots)`), then calls
 *   `emission.durable()` once that batch is flushed, or drops the emission
 *   (never calling `durable`) when the session ends first — the engine then
 *   reads the chunk again;
 * - `sessionStarted()` whenever a new capture session starts: windows opened
 *   in an older session can no longer close and are abandoned.
 *
 * Ordering and durability: a chunk counts as done only after `durable()`;
 * the record stored with its rows names the last key of that chunk, so a
 * restarted agent resumes after the last chunk whose rows are in the spool
 * and never skips one. A watermark id the engine does not know (one written
 * before a restart) returns null and is ignored.
 */
import type { ChunkRows } from './chunk-rows.js';
import type { SnapshotRecord } from './snapshot-record.js';

/** A table as `schema.table` (PostgreSQL) or `database.table` (MySQL). */
export type TableName = string;

/**
 * A key value tuple in the source's own text form, one entry per key column,
 * in key order: what `readChunk` compares against (`WHERE (k1, k2) > ($1, $2)`).
 * Text so it is stored as is in the spool and survives restarts.
 */
export type ChunkKey = readonly string[];

export interface KeyedTable {
  readonly kind: 'keyed';
  readonly table: TableName;
  /** Primary key columns, in index order (chunk order). */
  readonly keyColumns: readonly string[];
  /** The planner's row count estimate (progress and ETA only). */
  readonly rowsEstimate: number;
}

/** A table without a primary key: the engine fails its snapshot with `reason` (README: "Tables without a primary key"). */
export interface UnkeyedTable {
  readonly kind: 'noKey';
  readonly table: TableName;
  readonly reason: string;
}

export type TableInfo = KeyedTable | UnkeyedTable;

/** One row of a chunk, encoded as the stream encodes the same row. */
export interface ChunkRow {
  /** The change-event key bytes (what `SnapshotHooks.changed` receives for this row). */
  readonly key: Uint8Array;
  /** The full row image (the `after` of an `op = READ` event). */
  readonly after: Uint8Array;
}

/**
 * One chunk as read. `M` is whatever the source needs back at the high
 * watermark to write the rows (PostgreSQL: the relation description the rows
 * were converted with, so their schema version is checked against the stream's).
 */
export interface Chunk<M> {
  /** The rows in key order (chunk-rows.ts: packed, not an object per row). */
  readonly rows: ChunkRows;
  /** The key of the last row read (null when the chunk is empty: the table is done). */
  readonly lastKey: ChunkKey | null;
  readonly meta: M;
}

export interface SnapshotSource<M> {
  describe(table: TableName, signal: AbortSignal): Promise<TableInfo>;
  readChunk(table: KeyedTable, after: ChunkKey | null, limit: number, signal: AbortSignal): Promise<Chunk<M>>;
  /** Writes a watermark carrying `id` into the log; resolves once committed. */
  writeWatermark(id: string, signal: AbortSignal): Promise<void>;
  /**
   * Optional: writes several watermarks in one transaction, in the order
   * given (a chunk's high watermark and the next one's low: one commit);
   * resolves once committed. Without it they are written one by one.
   */
  writeWatermarks?(ids: readonly string[], signal: AbortSignal): Promise<void>;
}

/** The chunk rows to write at a high watermark (see the header). */
export interface SnapshotEmission<M> {
  readonly table: TableName;
  /** The window's low watermark id (a source may check what it saw before it). */
  readonly lowId: string;
  /** Surviving rows, in key order. */
  readonly rows: ChunkRows;
  readonly meta: M;
  /** Store in the spool with the batch holding the rows. */
  readonly record: SnapshotRecord;
  /** The batch holding `rows` and `record` is flushed to disk. */
  durable(): void;
  /** The source could not write the rows (e.g. the table's schema changed since the SELECT): read the chunk again. */
  rejected(reason: string): void;
}

export interface SnapshotHooks<M> {
  /** True while some window on `table` is open: only then do `changed` calls matter (a cheap check for the hot path). */
  watching(table: TableName): boolean;
  changed(table: TableName, key: Uint8Array): void;
  truncated(table: TableName): void;
  watermark(id: string): SnapshotEmission<M> | null;
  sessionStarted(): void;
}

/** Prefix of every watermark id, so a source can tell its watermarks from anything else in the log. */
export const WATERMARK_PREFIX = 'tributary.snapshot';
