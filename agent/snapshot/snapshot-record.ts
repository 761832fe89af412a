/**
 * A table's snapshot state as stored in the spool (LMDB), one record per
 * table. A record that names a chunk's last key is written in the same spool
 * transaction as that chunk's rows, so the stored progress never runs ahead
 * of the rows the spool holds.
 */
import type { ChunkKey, TableName } from './snapshot-source.js';

export type SnapshotState = 'pending' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled';

export interface SnapshotRecord {
  readonly table: TableName;
  readonly state: SnapshotState;
  /** Last key of the last chunk whose rows are durable in the spool; null before the first chunk. */
  readonly lastKey: ChunkKey | null;
  readonly rowsDone: number;
  readonly rowsEstimate: number;
  readonly chunksDone: number;
  /** ISO timestamps. */
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly error?: string;
}

/** The `snapshot.progress` event payload (common contract between agent and hub): the record without its key. */
export type SnapshotProgress = Omit<SnapshotRecord, 'lastKey'>;

export function progressOf(r: SnapshotRecord): SnapshotProgress {
  return {
    table: r.table,
    state: r.state,
    rowsDone: r.rowsDone,
    rowsEstimate: r.rowsEstimate,
    chunksDone: r.chunksDone,
    startedAt: r.startedAt,
    updatedAt: r.updatedAt,
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

/** Only a stored record in one of these states is picked up again after a restart. */
export function isActive(state: SnapshotState): boolean {
  return state === 'pending' || state === 'running';
}
