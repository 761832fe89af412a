/**
 * One chunk's watermark window (DBLog): opened when the low watermark is seen
 * in the log, closed at the high watermark. Every key the log changes while
 * the window is open is dropped from the chunk, because the SELECT may have
 * read that row before or after the change: the log's own event for it (at
 * its position inside the window) or a later one carries the truth. What
 * survives was not changed between LW and HW, so the SELECT's version is the
 * row's version at HW, and writing it at HW's position keeps the stream in
 * order. Rows changed before LW are read in their changed state (the SELECT
 * starts after LW committed); rows changed after HW are newer and follow.
 */
import { NO_ROWS, SelectedRows, type ChunkRows } from './chunk-rows.js';
import type { Chunk } from './snapshot-source.js';

export type WindowState = 'written' | 'open' | 'closed';

/** A key's bytes as a map key (latin1: one char per byte, no decoding cost). */
export function keyId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export class ChunkWindow<M> {
  private stateValue: WindowState = 'written';
  private readonly changed = new Set<string>();
  private truncatedInWindow = false;
  private chunk: Chunk<M> | null = null;

  constructor(
    readonly table: string,
    readonly lowId: string,
    readonly highId: string,
  ) {}

  get state(): WindowState {
    return this.stateValue;
  }

  /** The low watermark was seen: changes from here on are recorded. */
  open(): void {
    if (this.stateValue === 'written') this.stateValue = 'open';
  }

  change(key: Uint8Array): void {
    if (this.stateValue === 'open') this.changed.add(keyId(key));
  }

  truncate(): void {
    if (this.stateValue === 'open') this.truncatedInWindow = true;
  }

  /** The SELECT's result (set before the high watermark is written). */
  setChunk(chunk: Chunk<M>): void {
    this.chunk = chunk;
  }

  /**
   * The high watermark was seen: the rows to write there, in key order, or
   * an error reason when the window cannot be trusted (its low watermark was
   * never seen in this session, or the chunk is missing).
   */
  close(): { rows: ChunkRows; chunk: Chunk<M> } | { error: string } {
    const was = this.stateValue;
    this.stateValue = 'closed';
    if (was !== 'open') return { error: `high watermark ${this.highId} seen while the window was ${was}` };
    const chunk = this.chunk;
    if (chunk === null) return { error: `high watermark ${this.highId} seen before the chunk was read` };
    // A truncate inside the window: the SELECT may have read rows from before
    // it; rows inserted after it are in the log. Nothing of the chunk is safe.
    if (this.truncatedInWindow) return { rows: NO_ROWS, chunk };
    if (this.changed.size === 0) return { rows: chunk.rows, chunk };
    const rows = chunk.rows;
    const keep = new Uint32Array(rows.length);
    let n = 0;
    for (let i = 0; i < rows.length; i++) if (!this.changed.has(keyId(rows.key(i)))) keep[n++] = i;
    return { rows: new SelectedRows(rows, keep.subarray(0, n)), chunk };
  }

  /** Number of distinct keys changed in the window so far (for logs and tests). */
  get changedKeys(): number {
    return this.changed.size;
  }
}
