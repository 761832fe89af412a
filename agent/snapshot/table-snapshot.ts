/**
 * One table's snapshot: chunk after chunk in key order, each inside its own
 * watermark window, until a chunk comes back short. Between chunks it obeys
 * pause and cancel and the rows-per-second ceiling. A chunk is retried
 * (same starting key) when its window is abandoned — the capture session
 * restarted, the source dropped the connection — with backoff; any other
 * failure ends the table's snapshot as failed.
 */
import { Backoff, sleep } from '../backoff.js';
import { AgentError, retryDirective } from '../errors.js';
import type { Logger } from '../log.js';
import type { SnapshotRecord } from './snapshot-record.js';
import type { KeyedTable, SnapshotSource } from './snapshot-source.js';
import type { OpenWindow, WindowOutcome, WindowRegistry } from './windows.js';

/** What the engine lets a running table see and change. */
export interface TableJob {
  readonly table: string;
  /** Set by commands; read between chunks. */
  request: 'run' | 'pause' | 'cancel';
  /** Resolves when `request` changes (the engine replaces it each time). */
  changed: Promise<void>;
  /** The latest record (in memory; durable once stored with a chunk or on its own). */
  record: SnapshotRecord;
}

export interface TableSnapshotContext<M> {
  readonly source: SnapshotSource<M>;
  readonly windows: WindowRegistry<M>;
  readonly log: Logger;
  readonly chunkRows: number;
  /** 0 = no ceiling. */
  readonly maxRowsPerSecond: number;
  readonly signal: AbortSignal;
  /** Stores a record on its own and reports it (state changes). */
  readonly store: (r: SnapshotRecord) => Promise<void>;
  /** Reports a record already stored with a chunk. */
  readonly report: (r: SnapshotRecord) => void;
  /** Resolves when the next chunk may be read (the spool is not backed up). */
  readonly pace: () => Promise<void>;
  /** True when `pace` would resolve at once. */
  readonly hasRoom: () => boolean;
}

const now = (): string => new Date().toISOString();

/** How long a chunk may wait for its high watermark before it is read again (and the wait is logged). */
const HIGH_WATERMARK_TIMEOUT_MS = 300_000;

/** Chunks read but not yet durable, at most (memory: this many chunks of rows). */
const CHUNKS_IN_FLIGHT = 4;

/** Runs `job` until done, paused, cancelled, failed, or the signal aborts (then the record stays running). */
export async function snapshotTable<M>(ctx: TableSnapshotContext<M>, job: TableJob): Promise<void> {
  const info = await ctx.source.describe(job.table, ctx.signal);
  if (info.kind === 'noKey') {
    await ctx.store({ ...job.record, state: 'failed', error: info.reason, updatedAt: now() });
    ctx.log.warn('table has no primary key: not snapshotted', { table: job.table, reason: info.reason });
    return;
  }
  await ctx.store({ ...job.record, state: 'running', rowsEstimate: info.rowsEstimate, updatedAt: now() });
  ctx.windows.restart(job.table); // a failure of an earlier run of this table is behind us
  const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  const started = Date.now();
  // Up to CHUNKS_IN_FLIGHT chunks between their high watermark and the
  // spool: the next chunk is read while earlier high watermarks travel
  // through the log (the round trip, not the SELECT, bounds a one-at-a-time
  // loop). Each window opens only after the previous HW was written, so
  // windows never overlap; records reach the spool in chunk order; and when
  // one chunk fails the registry fails the later ones with it (windows.ts),
  // so no record ever names a key past a chunk that is missing.
  //
  // The newest chunk's high watermark waits for the next chunk's low
  // watermark: both go out in one source transaction, in that order (one
  // commit per chunk instead of two). Nothing happens between them, so the
  // windows still never overlap. Before a wait that does not end by itself
  // (a full spool, the ceiling, the end, a command) it is written on its
  // own; it waits only while an earlier chunk of the table settles.
  let cursor = job.record;
  const firstRows = cursor.rowsDone;
  const inFlight: Array<ReadWindow<M>> = [];
  let unclosed: ReadWindow<M> | null = null;
  const closeNewest = async (): Promise<void> => {
    const u = unclosed;
    unclosed = null;
    if (u !== null) await writeMarks(ctx, [u.window.highId], [u.window]);
  };
  const settleOne = async (): Promise<void> => {
    const f = inFlight.shift();
    if (f === undefined) return;
    await abortable(f.done, ctx.signal, HIGH_WATERMARK_TIMEOUT_MS).catch((e: unknown) => {
      // The window may still close later: forget it (and the later ones) so a late emission is ignored.
      ctx.windows.abandon(f.window, e instanceof AgentError ? e : new AgentError('internal', 'chunk failed', { cause: e }));
      throw e;
    });
    job.record = f.record;
    ctx.report(f.record);
  };
  while (!ctx.signal.aborted) {
    try {
      if (job.request !== 'run' || cursor.state === 'done') {
        await closeNewest();
        while (inFlight.length > 0) await settleOne();
        if (job.request === 'run') return;
        return void (await ctx.store({ ...job.record, state: job.request === 'pause' ? 'paused' : 'cancelled', updatedAt: now() }));
      }
      if (!ctx.hasRoom()) await closeNewest();
      await ctx.pace();
      const previous: ReadWindow<M> | null = unclosed;
      unclosed = null;
      const read: ReadWindow<M> = await readWindow(ctx, job.table, info, cursor, previous);
      inFlight.push(read);
      unclosed = read;
      cursor = read.record;
      while (inFlight.length >= CHUNKS_IN_FLIGHT) await settleOne();
      backoff.reset();
      // The ceiling is on rows read from the source.
      await throttle(ctx, job, started, cursor.rowsDone - firstRows, closeNewest);
    } catch (cause) {
      const err = cause instanceof AgentError ? cause : new AgentError('internal', 'snapshot chunk failed', { cause });
      if (ctx.signal.aborted) return;
      if (retryDirective(err.kind) !== 'retry') throw err;
      ctx.log.warn('snapshot chunk not completed; reading again from the last durable chunk', { table: job.table, error: err });
      // Later chunks failed with the first (windows.ts); their rows may still
      // reach the spool, harmlessly: rows at later positions, records behind.
      inFlight.length = 0;
      unclosed = null;
      cursor = job.record;
      ctx.windows.restart(job.table);
      await backoff.wait(ctx.signal);
    }
  }
}

interface ReadWindow<M> {
  readonly window: OpenWindow<M>;
  /** Settles once the chunk's rows and record are durable in the spool. */
  readonly done: Promise<WindowOutcome>;
  /** The record stored with the chunk's rows. */
  readonly record: SnapshotRecord;
}

/**
 * One DBLog window up to its SELECT: the previous chunk's high watermark
 * (when it is still unwritten) and this chunk's low watermark in one
 * transaction, then the SELECT. The caller writes the high watermark.
 */
async function readWindow<M>(ctx: TableSnapshotContext<M>, table: string, info: KeyedTable, from: SnapshotRecord, previous: ReadWindow<M> | null): Promise<ReadWindow<M>> {
  let record: SnapshotRecord = from;
  const w: OpenWindow<M> = ctx.windows.open(table, () => record);
  try {
    if (previous === null) await ctx.source.writeWatermark(w.lowId, ctx.signal);
    else await writeMarks(ctx, [previous.window.highId, w.lowId], [previous.window]);
    const c = await ctx.source.readChunk(info, from.lastKey, ctx.chunkRows, ctx.signal);
    // A short chunk is the last: the table is done with the same spool write.
    record = {
      ...from,
      state: c.rows.length < ctx.chunkRows ? 'done' : 'running',
      lastKey: c.lastKey ?? from.lastKey,
      rowsDone: from.rowsDone + c.rows.length,
      chunksDone: from.chunksDone + 1,
      updatedAt: now(),
    };
    w.window.setChunk(c);
    return { window: w, done: w.done, record };
  } catch (cause) {
    ctx.windows.abandon(w, cause instanceof AgentError ? cause : new AgentError('internal', 'chunk failed', { cause }));
    throw cause;
  }
}

/**
 * Writes watermarks in one transaction, in order (one by one where the
 * source cannot); on failure abandons `windows` (and with them every later
 * window of the table) before rethrowing.
 */
async function writeMarks<M>(ctx: TableSnapshotContext<M>, ids: readonly string[], windows: ReadonlyArray<OpenWindow<M>>): Promise<void> {
  try {
    if (ctx.source.writeWatermarks !== undefined) await ctx.source.writeWatermarks(ids, ctx.signal);
    else for (const id of ids) await ctx.source.writeWatermark(id, ctx.signal);
  } catch (cause) {
    const err = cause instanceof AgentError ? cause : new AgentError('internal', 'watermark write failed', { cause });
    for (const w of windows) ctx.windows.abandon(w, err);
    throw cause;
  }
}

function abortable<T>(p: Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
  if (signal.aborted) return Promise.reject(new AgentError('source-unavailable', 'shutting down'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AgentError('source-unavailable', 'shutting down'));
    const timer = setTimeout(
      () =>
        reject(
          new AgentError(
            'source-unavailable',
            `a chunk's high watermark was not seen in the log within ${timeoutMs / 1000} s (is the signal table in the publication? is the stream stopped by a full spool?)`,
          ),
        ),
      timeoutMs,
    );
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    });
  });
}

/** Sleeps so that rows read since `started` stay under the ceiling; wakes early on a command. */
async function throttle<M>(ctx: TableSnapshotContext<M>, job: TableJob, started: number, rows: number, beforeSleep: () => Promise<void>): Promise<void> {
  if (ctx.maxRowsPerSecond <= 0) return;
  const due = started + (rows / ctx.maxRowsPerSecond) * 1000 - Date.now();
  if (due <= 0) return;
  await beforeSleep();
  const wake = new AbortController();
  const onAbort = (): void => wake.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  void job.changed.then(() => wake.abort());
  await sleep(due, wake.signal);
  ctx.signal.removeEventListener('abort', onAbort);
}
