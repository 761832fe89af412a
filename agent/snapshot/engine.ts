/**
 * SnapshotEngine: incremental snapshots beside the stream (Netflix DBLog),
 * source-independent. It owns the per-table snapshot records (stored in the
 * spool), a queue of tables to snapshot one at a time, the commands
 * (start, pause, resume, cancel) and the progress reports; the chunk loop is
 * table-snapshot.ts, the watermark windows windows.ts, the contract with a
 * source snapshot-source.ts.
 *
 * Restart: `run` picks up every table whose stored record is pending or
 * running, from the last key stored with its last durable chunk. A paused
 * table stays paused until resumed; done, failed and cancelled tables are
 * snapshotted again only on `start` (a re-backfill from the first key).
 */
import type { ChangeBuffer } from '../buffer/change-buffer.js';
import { sleep } from '../backoff.js';
import { AgentError } from '../errors.js';
import type { Logger } from '../log.js';
import { isActive, progressOf, type SnapshotProgress, type SnapshotRecord } from './snapshot-record.js';
import type { SnapshotSource, TableName } from './snapshot-source.js';
import { snapshotTable, type TableJob } from './table-snapshot.js';
import { WindowRegistry } from './windows.js';

export interface SnapshotSettings {
  /** Snapshot every included table without a completed snapshot when the source starts. */
  readonly initial: boolean;
  /** Rows per chunk (one SELECT between two watermarks). */
  readonly chunkRows: number;
  /** Ceiling on rows read per second per table; 0 = unlimited. */
  readonly maxRowsPerSecond: number;
}

export interface SnapshotEngineOptions<M> {
  readonly source: SnapshotSource<M>;
  readonly buffer: ChangeBuffer;
  readonly log: Logger;
  readonly settings: SnapshotSettings;
  /** Receives `snapshot.progress` payloads: on every state change and at least every `progressEveryMs` while running. */
  readonly onProgress?: (p: SnapshotProgress) => void;
  readonly progressEveryMs?: number;
}

const now = (): string => new Date().toISOString();

/**
 * Spool bytes not yet acknowledged by the hub above which no new chunk is
 * read: the snapshot then runs at the pace the hub takes it, the stream's
 * own changes never queue behind more than this much snapshot data, and a
 * hub outage stops the snapshot instead of filling the spool with it.
 * (Bytes, not batches: how many rows a batch holds depends on the row.)
 */
const MAX_UNACKED_BYTES = 16 << 20;

export class SnapshotEngine<M> {
  /** The hooks the source's capture calls (see snapshot-source.ts). */
  readonly hooks = new WindowRegistry<M>();
  private readonly records = new Map<TableName, SnapshotRecord>();
  private readonly jobs = new Map<TableName, TableJob & { wake: () => void }>();
  private readonly queue: TableName[] = [];
  private wakeRunner: () => void = () => undefined;

  constructor(private readonly options: SnapshotEngineOptions<M>) {
    for (const r of options.buffer.snapshotRecords()) this.records.set(r.table, r);
  }

  get settings(): SnapshotSettings {
    return this.options.settings;
  }

  /** Progress of every table the spool has a record for. */
  list(): SnapshotProgress[] {
    return [...this.records.values()].map((r) => progressOf(this.jobs.get(r.table)?.record ?? r));
  }

  /**
   * The source's included tables: queues those never snapshotted (when
   * `initial`; a table newly added to a running pipeline passes true) and
   * those interrupted by a restart.
   */
  include(tables: readonly TableName[], initial = this.options.settings.initial): void {
    for (const t of tables) {
      const r = this.records.get(t);
      if (r === undefined ? initial : isActive(r.state)) this.enqueue(t, r ?? null);
    }
  }

  /** `snapshot.start`: a new snapshot from the first key (a re-backfill when one was done). */
  async start(table: TableName): Promise<SnapshotProgress> {
    if (this.jobs.has(table)) throw new AgentError('config', `${table}: a snapshot is already ${this.jobs.get(table)?.record.state}`);
    const r = this.fresh(table);
    await this.store(r);
    this.enqueue(table, r);
    return progressOf(r);
  }

  async pause(table: TableName): Promise<SnapshotProgress> {
    return this.command(table, 'pause');
  }

  async cancel(table: TableName): Promise<SnapshotProgress> {
    return this.command(table, 'cancel');
  }

  /** `snapshot.resume`: continues a paused (or interrupted) snapshot from its last stored key. */
  async resume(table: TableName): Promise<SnapshotProgress> {
    const job = this.jobs.get(table);
    if (job !== undefined) {
      this.request(job, 'run');
      return progressOf(job.record);
    }
    const r = this.records.get(table);
    if (r === undefined || (r.state !== 'paused' && !isActive(r.state))) throw new AgentError('config', `${table}: no paused snapshot to resume${r ? ` (it is ${r.state})` : ''}`);
    const next: SnapshotRecord = { ...r, state: 'pending', updatedAt: now() };
    await this.store(next);
    this.enqueue(table, next);
    return progressOf(next);
  }

  private async command(table: TableName, request: 'pause' | 'cancel'): Promise<SnapshotProgress> {
    const job = this.jobs.get(table);
    if (job !== undefined) {
      this.request(job, request);
      return progressOf(job.record);
    }
    const r = this.records.get(table);
    if (r === undefined || !(isActive(r.state) || (request === 'cancel' && r.state === 'paused')))
      throw new AgentError('config', `${table}: no running snapshot to ${request}${r ? ` (it is ${r.state})` : ''}`);
    const next: SnapshotRecord = { ...r, state: request === 'pause' ? 'paused' : 'cancelled', updatedAt: now() };
    await this.store(next);
    return progressOf(next);
  }

  private request(job: TableJob & { wake: () => void }, request: TableJob['request']): void {
    job.request = request;
    const wake = job.wake;
    job.changed = new Promise<void>((r) => (job.wake = r));
    wake();
  }

  private fresh(table: TableName): SnapshotRecord {
    const at = now();
    return { table, state: 'pending', lastKey: null, rowsDone: 0, rowsEstimate: 0, chunksDone: 0, startedAt: at, updatedAt: at };
  }

  private enqueue(table: TableName, record: SnapshotRecord | null): void {
    if (this.jobs.has(table)) return;
    const job = { table, request: 'run' as const, changed: Promise.resolve(), record: record ?? this.fresh(table), wake: () => undefined } as TableJob & { wake: () => void };
    job.changed = new Promise<void>((r) => (job.wake = r));
    this.jobs.set(table, job);
    this.records.set(table, job.record);
    this.queue.push(table);
    this.report(job.record);
    this.wakeRunner();
  }

  /**
   * Runs the engine for as long as `stream` runs: when the source's stream
   * ends (the signal aborted, or a failure that needs a person), the engine
   * stops too, so the source's `run` settles and the agent can exit.
   */
  async runBeside(stream: () => Promise<void>, signal: AbortSignal): Promise<void> {
    const engine = new AbortController();
    const onAbort = (): void => engine.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const running = this.run(engine.signal).catch((e: unknown) => this.options.log.error('snapshot engine stopped', { error: e }));
    try {
      await stream();
    } finally {
      signal.removeEventListener('abort', onAbort);
      engine.abort();
      await running;
    }
  }

  /** Snapshots queued tables one at a time until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const timer = setInterval(() => {
      for (const j of this.jobs.values()) if (j.record.state === 'running') this.report(j.record);
    }, this.options.progressEveryMs ?? 5000);
    timer.unref();
    try {
      while (!signal.aborted) {
        const table = this.queue.shift();
        if (table === undefined) {
          await new Promise<void>((resolve) => {
            const wake = (): void => {
              signal.removeEventListener('abort', wake);
              this.wakeRunner = () => undefined;
              resolve();
            };
            this.wakeRunner = wake;
            signal.addEventListener('abort', wake, { once: true });
          });
          continue;
        }
        await this.runJob(table, signal);
      }
    } finally {
      clearInterval(timer);
    }
  }

  private async runJob(table: TableName, signal: AbortSignal): Promise<void> {
    const job = this.jobs.get(table);
    if (job === undefined) return;
    const log = this.options.log;
    log.info('snapshot started', { table, from: job.record.lastKey, rowsDone: job.record.rowsDone });
    try {
      await snapshotTable(
        {
          source: this.options.source,
          windows: this.hooks,
          log,
          chunkRows: this.options.settings.chunkRows,
          maxRowsPerSecond: this.options.settings.maxRowsPerSecond,
          signal,
          store: async (r) => {
            job.record = r;
            await this.store(r);
          },
          report: (r) => {
            this.records.set(r.table, r);
            this.report(r);
          },
          pace: () => this.spoolRoom(signal),
          hasRoom: () => this.hasRoom(),
        },
        job,
      );
      if (!signal.aborted) log.info('snapshot ended', { table, state: job.record.state, rowsDone: job.record.rowsDone, chunks: job.record.chunksDone });
    } catch (cause) {
      const err = cause instanceof AgentError ? cause : new AgentError('internal', 'snapshot failed', { cause });
      log.error('snapshot failed', { table, error: err });
      job.record = { ...job.record, state: 'failed', error: err.message, updatedAt: now() };
      await this.store(job.record).catch((e: unknown) => log.error('cannot store the snapshot state', { table, error: e }));
    } finally {
      this.jobs.delete(table);
    }
  }

  private hasRoom(): boolean {
    return this.options.buffer.state().bytes <= MAX_UNACKED_BYTES;
  }

  private async spoolRoom(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !this.hasRoom()) await sleep(5, signal);
  }

  private async store(r: SnapshotRecord): Promise<void> {
    this.records.set(r.table, r);
    await this.options.buffer.putSnapshotRecord(r);
    this.report(r);
  }

  private report(r: SnapshotRecord): void {
    this.options.onProgress?.(progressOf(r));
  }
}
