/**
 * The engine's side of the capture hooks: the open chunk windows, found by
 * their watermark ids. The capture calls in log order on its own turn; the
 * chunk loop (table-snapshot.ts) opens a window before writing its low
 * watermark (the log may deliver it before the write even returns) and waits
 * on `done`, which settles only when the rows written at the high watermark
 * are durable in the spool, or fails when the window can no longer close.
 */
import { randomBytes } from 'node:crypto';
import { AgentError } from '../errors.js';
import { ChunkWindow } from './chunk-window.js';
import type { SnapshotRecord } from './snapshot-record.js';
import { WATERMARK_PREFIX, type Chunk, type SnapshotEmission, type SnapshotHooks, type TableName } from './snapshot-source.js';

export interface WindowOutcome {
  /** Rows the SELECT returned. */
  readonly rowsRead: number;
  /** Rows written at the high watermark (the others were changed inside the window). */
  readonly rowsWritten: number;
}

export interface OpenWindow<M> {
  readonly lowId: string;
  readonly highId: string;
  readonly window: ChunkWindow<M>;
  /** Settles once the rows are durable, or rejects when the window is abandoned. */
  readonly done: Promise<WindowOutcome>;
}

interface Pending<M> {
  /** Opening order: a failure fails this window and the later ones of its table. */
  readonly seq: number;
  readonly window: ChunkWindow<M>;
  readonly record: (chunk: Chunk<M>, rowsWritten: number) => SnapshotRecord;
  readonly resolve: (o: WindowOutcome) => void;
  readonly reject: (e: AgentError) => void;
}

/** A fresh watermark id: the prefix (so sources and logs can tell ours apart), a random part, and the side. */
function watermarkIds(): { lowId: string; highId: string } {
  const nonce = randomBytes(9).toString('base64url');
  return { lowId: `${WATERMARK_PREFIX}:${nonce}:low`, highId: `${WATERMARK_PREFIX}:${nonce}:high` };
}

export class WindowRegistry<M> implements SnapshotHooks<M> {
  private readonly byLow = new Map<string, Pending<M>>();
  private readonly byHigh = new Map<string, Pending<M>>();
  /** Windows closed at their high watermark whose rows are not durable yet. */
  private readonly emitted = new Set<Pending<M>>();
  private readonly watched = new Map<TableName, number>();
  /**
   * Tables with a window that failed since their chunk loop last started
   * over (`restart`), and why. The loop learns of a failure only when it
   * next awaits that window, and may read further chunks meanwhile; a window
   * opened then would close normally and store a record past the failed
   * chunk, whose rows never reached the spool (a restart would resume after
   * them). So no window opens for such a table until the loop starts over.
   */
  private readonly broken = new Map<TableName, AgentError>();
  private opened = 0;

  /**
   * Opens a window on `table`. `record` builds the progress record stored
   * with the chunk's rows, from the chunk and the number of rows written.
   */
  open(table: TableName, record: (chunk: Chunk<M>, rowsWritten: number) => SnapshotRecord): OpenWindow<M> {
    const failed = this.broken.get(table);
    if (failed !== undefined) throw failed;
    const { lowId, highId } = watermarkIds();
    const window = new ChunkWindow<M>(table, lowId, highId);
    let resolve!: (o: WindowOutcome) => void;
    let reject!: (e: AgentError) => void;
    const done = new Promise<WindowOutcome>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // The chunk loop may give up on a window before awaiting `done`.
    done.catch(() => undefined);
    const p: Pending<M> = { seq: ++this.opened, window, record, resolve, reject };
    this.byLow.set(lowId, p);
    this.byHigh.set(highId, p);
    this.watched.set(table, (this.watched.get(table) ?? 0) + 1);
    return { lowId, highId, window, done };
  }

  /** The table's chunk loop starts over from its last durable chunk: windows may open again. */
  restart(table: TableName): void {
    this.broken.delete(table);
  }

  /** Forgets a window the chunk loop gave up on (a failed SELECT or watermark write). */
  abandon(w: OpenWindow<M>, reason: AgentError): void {
    const p = this.byHigh.get(w.highId);
    if (p !== undefined) this.settle(p, reason);
  }

  watching(table: TableName): boolean {
    return this.watched.has(table);
  }

  changed(table: TableName, key: Uint8Array): void {
    if (!this.watched.has(table)) return;
    for (const p of this.byHigh.values()) if (p.window.table === table) p.window.change(key);
  }

  truncated(table: TableName): void {
    for (const p of this.byHigh.values()) if (p.window.table === table) p.window.truncate();
  }

  watermark(id: string): SnapshotEmission<M> | null {
    const low = this.byLow.get(id);
    if (low !== undefined) {
      this.byLow.delete(id);
      low.window.open();
      return null;
    }
    const p = this.byHigh.get(id);
    if (p === undefined) return null;
    const closed = p.window.close();
    if ('error' in closed) {
      this.settle(p, new AgentError('source-unavailable', `${p.window.table}: ${closed.error}`));
      return null;
    }
    this.forget(p);
    this.emitted.add(p);
    const rowsRead = closed.chunk.rows.length;
    const rowsWritten = closed.rows.length;
    return {
      table: p.window.table,
      lowId: p.window.lowId,
      rows: closed.rows,
      meta: closed.chunk.meta,
      record: p.record(closed.chunk, rowsWritten),
      durable: () => {
        if (this.emitted.delete(p)) p.resolve({ rowsRead, rowsWritten });
      },
      rejected: (reason) => {
        if (this.emitted.has(p)) this.settle(p, new AgentError('source-unavailable', `${p.window.table}: ${reason}`));
      },
    };
  }

  sessionStarted(): void {
    const err = new AgentError('source-unavailable', 'the capture session restarted while a chunk window was open');
    for (const p of [...this.byHigh.values(), ...this.emitted]) {
      this.broken.set(p.window.table, err);
      this.forget(p);
      this.emitted.delete(p);
      p.reject(err);
    }
  }

  /** Open windows and emissions awaiting durability (tests and metrics). */
  get size(): number {
    return this.byHigh.size + this.emitted.size;
  }

  /**
   * Fails a window, and every later window of its table: a later chunk must
   * never reach the spool (its record naming a later key) when an earlier
   * one did not.
   */
  private settle(p: Pending<M>, err: AgentError): void {
    const table = p.window.table;
    this.broken.set(table, err);
    for (const q of [p, ...this.byHigh.values(), ...this.emitted]) {
      if (q !== p && (q.window.table !== table || q.seq < p.seq)) continue;
      this.forget(q);
      this.emitted.delete(q);
      q.reject(err);
    }
  }

  private forget(p: Pending<M>): void {
    if (!this.byHigh.delete(p.window.highId)) return;
    this.byLow.delete(p.window.lowId);
    const n = (this.watched.get(p.window.table) ?? 1) - 1;
    if (n <= 0) this.watched.delete(p.window.table);
    else this.watched.set(p.window.table, n);
  }
}
