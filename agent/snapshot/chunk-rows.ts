/**
 * A chunk's rows without an object per row. A chunk of 10,000 rows lives
 * from its SELECT to its high watermark, across many young-generation
 * collections: per-row objects would all be copied and promoted on the way,
 * so sources hand rows over packed in one buffer instead.
 */
import type { ChunkRow } from './snapshot-source.js';

/** Rows in key order: row i's key bytes and full row image. */
export interface ChunkRows {
  readonly length: number;
  key(i: number): Uint8Array;
  after(i: number): Uint8Array;
}

/**
 * Rows back to back in one buffer: row i's key ends at `ends[2i]`, its row
 * image right after it ends at `ends[2i + 1]`.
 */
export class PackedRows implements ChunkRows {
  readonly length: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly ends: Uint32Array,
  ) {
    if (ends.length % 2 !== 0) throw new RangeError('packed rows need two ends per row');
    this.length = ends.length / 2;
  }

  key(i: number): Uint8Array {
    return this.bytes.subarray(i === 0 ? 0 : (this.ends[2 * i - 1] as number), this.ends[2 * i] as number);
  }

  after(i: number): Uint8Array {
    return this.bytes.subarray(this.ends[2 * i] as number, this.ends[2 * i + 1] as number);
  }
}

/** The rows of `base` at `indexes`, in that order (a window's survivors). */
export class SelectedRows implements ChunkRows {
  readonly length: number;

  constructor(
    private readonly base: ChunkRows,
    private readonly indexes: Uint32Array,
  ) {
    this.length = indexes.length;
  }

  key(i: number): Uint8Array {
    return this.base.key(this.indexes[i] as number);
  }

  after(i: number): Uint8Array {
    return this.base.after(this.indexes[i] as number);
  }
}

/** Rows given one by one. */
export function rowList(rows: readonly ChunkRow[]): ChunkRows {
  return {
    length: rows.length,
    key: (i) => (rows[i] as ChunkRow).key,
    after: (i) => (rows[i] as ChunkRow).after,
  };
}

/** The rows as ChunkRow objects (tests, logs). */
export function rowArray(rows: ChunkRows): ChunkRow[] {
  return Array.from({ length: rows.length }, (_, i) => ({ key: rows.key(i), after: rows.after(i) }));
}

export const NO_ROWS: ChunkRows = rowList([]);
