/**
 * The bookkeeping every sink adds to a destination table, under one prefix
 * (`_tributary_`), the same in every warehouse. A source column whose name
 * starts with the prefix is refused, so metadata can never shadow data.
 */
export const META_PREFIX = '_tributary_';

export const META = {
  /** Source commit position of the change that wrote the row (LSN for PostgreSQL). */
  lsn: '_tributary_lsn',
  /** Order of that change inside its transaction; (lsn, index) is the row's position guard. */
  index: '_tributary_index',
  /** c insert, u update, r snapshot read, d delete (soft-delete policy), t truncate (soft). */
  op: '_tributary_op',
  /** Source commit time. */
  commitTime: '_tributary_commit_time',
  /** When the sink wrote the row. */
  syncedAt: '_tributary_synced_at',
  /** Soft-delete policy only: true once the source row is deleted. */
  deleted: '_tributary_deleted',
} as const;

/** Offsets (one row per sink) kept in the destination and written in the batch's own transaction. */
export const OFFSETS_TABLE = '_tributary_offsets';

/** Per destination table and column: the type the sink gave it and the newest source schema version applied (merge/evolve.ts). */
export const COLUMNS_LEDGER = '_tributary_columns';

export const OP_CHAR = { insert: 'c', update: 'u', read: 'r', delete: 'd', truncate: 't' } as const;

/** `hard`: a source delete removes the row. `soft`: the row stays, `_tributary_deleted = true`. */
export type DeletePolicy = 'hard' | 'soft';

export function isMetaName(name: string): boolean {
  return name.toLowerCase().startsWith(META_PREFIX);
}
