import { open, type Database, type RootDatabase } from 'lmdb';
import { AgentError } from '../errors.js';
import type { ChangeBuffer, ChangeBufferState, SchemaVersionRecord, SpooledBatch } from './change-buffer.js';
import { withSequence } from './batch-builder.js';
import type { SnapshotRecord } from '../snapshot/snapshot-record.js';

export interface LmdbChangeBufferOptions {
  readonly path: string;
  readonly maxBytes: number;
  /** Bytes of the newest durable batches kept in memory for readers (default RECENT_MAX_BYTES). */
  readonly recentBytes?: number;
}

interface Meta {
  committedSequence: number;
  committedPosition: string;
  /** Absent in spools written before sources stored their own state. */
  sourceState?: string | null;
  ackedSequence: number;
  bytes: number;
}

type CommitPoint = { committedSequence: number; committedPosition: string; sourceState: string | null };

const META_KEY = 'meta';

/**
 * Bytes of the newest durable batches kept in memory for the uplink, which
 * then sends what was just spooled instead of reading it back from LMDB (a
 * copy and an allocation per batch). Older batches, after a restart or while
 * the hub is behind, are read from LMDB as before.
 */
const RECENT_MAX_BYTES = 32 << 20;

/**
 * ChangeBuffer on LMDB. Every append is its own write queued on lmdb-js,
 * which commits the writes of one event-loop turn together; durability is
 * awaited with `flushed` because lmdb-js resolves a commit before its fsync.
 */
export class LmdbChangeBuffer implements ChangeBuffer {
  private readonly root: RootDatabase;
  private readonly batches: Database<Uint8Array, number>;
  private readonly metaDb: Database<Meta, string>;
  private readonly schemaDb: Database<SchemaVersionRecord, string>;
  private readonly snapshotDb: Database<SnapshotRecord, string>;
  private meta: Meta;
  /**
   * The commit point of the newest boundary append *queued* to LMDB. LMDB
   * runs queued transactions in call order, so any meta written by a later
   * transaction (an acknowledge) must carry this, not `meta`, which only
   * moves once the append is flushed.
   */
  private queued: CommitPoint;
  private nextSequence: number;
  private firstSequence: number;
  private readonly sizes = new Map<number, number>();
  /** Durable batches by sequence, oldest first, at most `recentBytes` of them (see RECENT_MAX_BYTES). */
  private readonly recent = new Map<number, Uint8Array>();
  private recentBytes = 0;
  private waiters = new Set<() => void>();
  private roomWaiters = new Set<() => void>();

  private constructor(private readonly options: LmdbChangeBufferOptions) {
    try {
      this.root = open({ path: options.path, maxDbs: 8, compression: false });
      this.batches = this.root.openDB<Uint8Array, number>({ name: 'batches', encoding: 'binary' });
      this.metaDb = this.root.openDB<Meta, string>({ name: 'meta', encoding: 'msgpack' });
      this.schemaDb = this.root.openDB<SchemaVersionRecord, string>({ name: 'schemas', encoding: 'msgpack' });
      this.snapshotDb = this.root.openDB<SnapshotRecord, string>({ name: 'snapshots', encoding: 'msgpack' });
    } catch (cause) {
      throw new AgentError('spool-corrupt', `cannot open the spool at ${options.path}`, { cause });
    }
    this.meta = this.metaDb.get(META_KEY) ?? { committedSequence: 0, committedPosition: '0', ackedSequence: 0, bytes: 0 };
    this.firstSequence = this.meta.ackedSequence + 1;
    this.nextSequence = this.meta.committedSequence + 1;
    this.queued = { committedSequence: this.meta.committedSequence, committedPosition: this.meta.committedPosition, sourceState: this.meta.sourceState ?? null };
  }

  /** Opens (or creates) the spool and discards the tail of a transaction that never committed. */
  static async open(options: LmdbChangeBufferOptions): Promise<LmdbChangeBuffer> {
    const buffer = new LmdbChangeBuffer(options);
    await buffer.recover();
    return buffer;
  }

  private async recover(): Promise<void> {
    const stale: number[] = [];
    let bytes = 0;
    for (const { key, value } of this.batches.getRange({})) {
      if (key > this.meta.committedSequence || key <= this.meta.ackedSequence) stale.push(key);
      else {
        this.sizes.set(key, value.length);
        bytes += value.length;
      }
    }
    const expected = this.meta.committedSequence - this.meta.ackedSequence;
    if (this.sizes.size !== expected) {
      throw new AgentError(
        'spool-corrupt',
        `spool at ${this.options.path} holds ${this.sizes.size} committed batches where ${expected} were expected ` +
          `(acked ${this.meta.ackedSequence}, committed ${this.meta.committedSequence})`,
      );
    }
    this.meta.bytes = bytes;
    if (stale.length > 0) {
      await this.root.transaction(() => {
        for (const k of stale) void this.batches.remove(k);
        void this.metaDb.put(META_KEY, this.meta);
      });
      await this.root.flushed;
    }
  }

  state(): ChangeBufferState {
    return {
      firstSequence: this.firstSequence,
      committedSequence: this.meta.committedSequence,
      committedPosition: BigInt(this.meta.committedPosition),
      ...(this.meta.sourceState != null ? { sourceState: this.meta.sourceState } : {}),
      ackedSequence: this.meta.ackedSequence,
      bytes: this.meta.bytes,
      maxBytes: this.options.maxBytes,
    };
  }

  schemaVersion(tableKey: string): SchemaVersionRecord | undefined {
    return this.schemaDb.get(tableKey);
  }

  snapshotRecords(): SnapshotRecord[] {
    return [...this.snapshotDb.getRange({})].map((e) => e.value);
  }

  async putSnapshotRecord(record: SnapshotRecord): Promise<void> {
    await this.snapshotDb.put(record.table, record);
    await this.root.flushed;
  }

  async append(
    body: Uint8Array,
    endsTransactionAt: bigint | null,
    schemaVersions: readonly SchemaVersionRecord[] = [],
    sourceState?: string,
    snapshots: readonly SnapshotRecord[] = [],
  ): Promise<number> {
    const sequence = this.nextSequence++;
    const bytes = withSequence(body, sequence);
    this.sizes.set(sequence, bytes.length);
    this.meta.bytes += bytes.length;
    // Meta is written in the same LMDB transaction as the batch, so the stored
    // position never runs ahead of the events it covers.
    const boundary = endsTransactionAt !== null;
    if (boundary) this.queued = { committedSequence: sequence, committedPosition: endsTransactionAt.toString(), sourceState: sourceState ?? this.queued.sourceState };
    const point = this.queued;
    await this.root.transaction(() => {
      void this.batches.put(sequence, bytes);
      if (boundary) void this.metaDb.put(META_KEY, this.storedMeta(point));
      for (const v of schemaVersions) void this.schemaDb.put(v.tableKey, v);
      for (const r of snapshots) void this.snapshotDb.put(r.table, r);
    });
    await this.root.flushed;
    this.keepRecent(sequence, bytes);
    if (boundary && sequence > this.meta.committedSequence) {
      this.meta.committedSequence = sequence;
      this.meta.committedPosition = point.committedPosition;
      this.meta.sourceState = point.sourceState;
      this.wake(this.waiters);
    }
    return sequence;
  }

  async discardUncommitted(): Promise<void> {
    const from = this.meta.committedSequence + 1;
    if (this.nextSequence === from) return;
    const upto = this.nextSequence - 1;
    for (let s = from; s <= upto; s++) {
      this.meta.bytes -= this.sizes.get(s) ?? 0;
      this.sizes.delete(s);
      this.dropRecent(s);
    }
    this.nextSequence = from;
    await this.root.transaction(() => {
      for (let s = from; s <= upto; s++) void this.batches.remove(s);
    });
    await this.root.flushed;
  }

  private storedMeta(point: CommitPoint): Meta {
    const { sourceState, ...rest } = point;
    return { ...rest, ...(sourceState !== null ? { sourceState } : {}), ackedSequence: this.meta.ackedSequence, bytes: this.meta.bytes };
  }

  read(from: number, maxBatches: number, maxBytes: number): SpooledBatch[] {
    const out: SpooledBatch[] = [];
    let size = 0;
    let start = Math.max(from, this.firstSequence);
    const end = this.meta.committedSequence + 1;
    // From memory while the batches are there, then from LMDB.
    for (let bytes = this.recent.get(start); bytes !== undefined && start < end && out.length < maxBatches; bytes = this.recent.get(start)) {
      out.push({ sequence: start++, bytes });
      size += bytes.length;
      if (size >= maxBytes) return out;
    }
    if (start >= end || out.length >= maxBatches) return out;
    for (const { key, value } of this.batches.getRange({ start, end, limit: maxBatches - out.length })) {
      out.push({ sequence: key, bytes: value });
      size += value.length;
      if (size >= maxBytes) break;
    }
    return out;
  }

  waitFor(after: number, signal: AbortSignal): Promise<void> {
    if (this.meta.committedSequence > after || signal.aborted) return Promise.resolve();
    return this.park(this.waiters, () => this.meta.committedSequence > after, signal);
  }

  async acknowledge(sequence: number): Promise<void> {
    const upto = Math.min(sequence, this.meta.committedSequence);
    if (upto <= this.meta.ackedSequence) return;
    const from = this.meta.ackedSequence + 1;
    for (let s = from; s <= upto; s++) {
      this.meta.bytes -= this.sizes.get(s) ?? 0;
      this.sizes.delete(s);
      this.dropRecent(s);
    }
    this.meta.ackedSequence = upto;
    this.firstSequence = upto + 1;
    const point = this.queued;
    await this.root.transaction(() => {
      for (let s = from; s <= upto; s++) void this.batches.remove(s);
      void this.metaDb.put(META_KEY, this.storedMeta(point));
    });
    if (!this.isFull()) this.wake(this.roomWaiters);
  }

  private keepRecent(sequence: number, bytes: Uint8Array): void {
    const max = this.options.recentBytes ?? RECENT_MAX_BYTES;
    if (bytes.length > max || sequence <= this.meta.ackedSequence) return;
    this.recent.set(sequence, bytes);
    this.recentBytes += bytes.length;
    for (const [s, b] of this.recent) {
      if (this.recentBytes <= max) break;
      this.recent.delete(s);
      this.recentBytes -= b.length;
    }
  }

  private dropRecent(sequence: number): void {
    const b = this.recent.get(sequence);
    if (b === undefined) return;
    this.recent.delete(sequence);
    this.recentBytes -= b.length;
  }

  isFull(): boolean {
    return this.meta.bytes >= this.options.maxBytes;
  }

  waitForRoom(signal: AbortSignal): Promise<void> {
    if (!this.isFull() || signal.aborted) return Promise.resolve();
    return this.park(this.roomWaiters, () => !this.isFull(), signal);
  }

  private park(set: Set<() => void>, ready: () => boolean, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (ready() || signal.aborted) {
          set.delete(check);
          signal.removeEventListener('abort', check);
          resolve();
        }
      };
      set.add(check);
      signal.addEventListener('abort', check, { once: true });
    });
  }

  private wake(set: Set<() => void>): void {
    for (const w of [...set]) w();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.wake(this.waiters);
    this.wake(this.roomWaiters);
    await this.root.flushed;
    await this.root.close();
  }
}
