import { createHash } from 'node:crypto';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { open, type Database, type RootDatabase } from 'lmdb';
import { TableSchemaSchema, type TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { HubError } from '../../errors.js';
import type { AppendResult, ChangeLog, LogEntry, SchemaRecord, SourceCheckpoint } from '../change-log.js';

interface StoredEntry {
  sourceKey: string;
  sequence: number;
  bytes: Uint8Array;
  ingestedAtUs: number;
}

interface StoredCheckpoint {
  ackedSequence: number;
  sourcePosition: string;
  lastOffset: number;
}

/** The embedded log: LMDB on the hub's disk; writes of one event-loop turn share a commit. */
export class LmdbChangeLog implements ChangeLog {
  private readonly root: RootDatabase;
  private readonly entries: Database<StoredEntry, number>;
  private readonly sources: Database<StoredCheckpoint, string>;
  private readonly seqIndex: Database<Uint8Array, [string, number]>;
  private readonly schemas: Database<Uint8Array, [string, string, string, number]>;
  private readonly offsets: Database<number, string>;
  /** When each schema version was first stored (µs), written with it. */
  private readonly schemaSeen: Database<number, [string, string, string, number]>;
  /** Last offset handed to an append (its transaction may still be in flight). */
  private head: number;
  /**
   * Last offset whose append is committed and readable. Readers wait on this,
   * never on `head`: a reader woken for an offset that `read` cannot see yet
   * would spin on resolved promises and starve the event loop that completes
   * the write.
   */
  private visible: number;
  /** In-memory next expected sequence per source, updated synchronously so concurrent appends order correctly. */
  private readonly expected = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private readonly schemaCache = new Map<string, TableSchema>();
  /**
   * Ingest hands over the next batch before the previous one is durable, so
   * batches of one turn share a commit and its fsync (one fsync per batch
   * bounded a source at a batch per disk flush). Each append checks, inside
   * its own write, that the previous sequence is stored: a failed earlier
   * write never leaves a later batch stored behind a gap.
   */
  readonly concurrentAppends = true;

  constructor(path: string) {
    this.root = open({ path, maxDbs: 8, compression: false });
    this.entries = this.root.openDB({ name: 'entries', encoding: 'msgpack' });
    this.sources = this.root.openDB({ name: 'sources', encoding: 'msgpack' });
    this.seqIndex = this.root.openDB({ name: 'sequences', encoding: 'binary' });
    this.schemas = this.root.openDB({ name: 'schemas', encoding: 'binary' });
    this.offsets = this.root.openDB({ name: 'sink-offsets', encoding: 'msgpack' });
    this.schemaSeen = this.root.openDB({ name: 'schema-seen', encoding: 'msgpack' });
    let head = 0;
    for (const key of this.entries.getKeys({ reverse: true, limit: 1 })) head = key;
    for (const { value } of this.sources.getRange({})) head = Math.max(head, value.lastOffset);
    this.head = head;
    this.visible = head;
  }

  private nextExpected(sourceKey: string): number {
    let n = this.expected.get(sourceKey);
    if (n === undefined) {
      n = (this.sources.get(sourceKey)?.ackedSequence ?? 0) + 1;
      this.expected.set(sourceKey, n);
    }
    return n;
  }

  async append(sourceKey: string, sequence: number, sourcePosition: bigint, bytes: Uint8Array, schemas: readonly TableSchema[]): Promise<AppendResult> {
    const expected = this.nextExpected(sourceKey);
    const hash = createHash('sha256').update(bytes).digest().subarray(0, 16);
    if (sequence < expected) {
      // Appends of this source may still be in flight: let them land first.
      await this.root.committed;
      const stored = this.seqIndex.get([sourceKey, sequence]);
      if (stored !== undefined && !Buffer.from(stored).equals(hash))
        throw new HubError('sequence-conflict', `${sourceKey}: sequence ${sequence} was already ingested with different content; refusing it`);
      await this.root.flushed;
      return 'duplicate';
    }
    if (sequence > expected) throw new HubError('sequence-gap', `${sourceKey}: expected sequence ${expected}, got ${sequence}`);
    for (const s of schemas) this.checkSchema(sourceKey, s);
    // Checked here for a clear error before anything is queued, and again
    // inside the write (an earlier append of the same commit may have stored
    // the version meanwhile): that write stores all of the batch or none.
    const encodedSchemas = schemas.map((s) => ({ key: [sourceKey, s.schema, s.table, s.version] as [string, string, string, number], value: toBinary(TableSchemaSchema, s) }));
    this.expected.set(sourceKey, sequence + 1);
    const nowUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
    const offset = ++this.head;
    const checkpoint: StoredCheckpoint = { ackedSequence: sequence, sourcePosition: sourcePosition.toString(), lastOffset: offset };
    try {
      // A child transaction: this append aborts alone, the others of its commit stand.
      await this.root.childTransaction(() => {
        // Reads here see the writes of every earlier append, committed or in this commit.
        const stored = this.sources.get(sourceKey)?.ackedSequence ?? 0;
        if (stored !== sequence - 1) throw new HubError('sequence-gap', `${sourceKey}: sequence ${sequence} follows ${stored}, whose successor was not stored`);
        for (const s of schemas) this.checkSchema(sourceKey, s);
        void this.entries.put(offset, { sourceKey, sequence, bytes, ingestedAtUs: nowUs });
        void this.sources.put(sourceKey, checkpoint);
        void this.seqIndex.put([sourceKey, sequence], hash);
        for (const s of encodedSchemas) void this.schemas.put(s.key, s.value);
        for (const s of encodedSchemas) if (this.schemaSeen.get(s.key) === undefined) void this.schemaSeen.put(s.key, nowUs);
      });
      await this.root.flushed;
      this.visible = Math.max(this.visible, offset);
    } catch (cause) {
      // The log's in-memory view is unknown now: reload it from disk on the next append.
      this.expected.delete(sourceKey);
      if (cause instanceof HubError) throw cause;
      throw new HubError('log-unavailable', `${sourceKey}: writing sequence ${sequence} to the log failed`, { cause });
    }
    for (const w of [...this.waiters]) w();
    return 'appended';
  }

  /** A schema version is immutable: the same (table, version) with other columns is refused. */
  private checkSchema(sourceKey: string, s: TableSchema): void {
    const stored = this.schemas.get([sourceKey, s.schema, s.table, s.version]);
    if (stored === undefined) return;
    const a = fromBinary(TableSchemaSchema, stored);
    const same = JSON.stringify(a.columns.map((c) => [c.name, c.kind, c.sourceType, c.key])) === JSON.stringify(s.columns.map((c) => [c.name, c.kind, c.sourceType, c.key]));
    if (!same) throw new HubError('sequence-conflict', `${sourceKey}: schema ${s.schema}.${s.table} version ${s.version} was already registered with different columns`);
  }

  checkpoint(sourceKey: string): SourceCheckpoint | undefined {
    const c = this.sources.get(sourceKey);
    return c === undefined ? undefined : { sourceKey, ackedSequence: c.ackedSequence, sourcePosition: BigInt(c.sourcePosition), lastOffset: c.lastOffset };
  }

  checkpoints(): SourceCheckpoint[] {
    return [...this.sources.getRange({})].map(({ key, value }) => ({
      sourceKey: key,
      ackedSequence: value.ackedSequence,
      sourcePosition: BigInt(value.sourcePosition),
      lastOffset: value.lastOffset,
    }));
  }

  read(from: number, max: number): LogEntry[] {
    const out: LogEntry[] = [];
    for (const { key, value } of this.entries.getRange({ start: from, limit: max })) {
      out.push({ offset: key, sourceKey: value.sourceKey, sequence: value.sequence, bytes: value.bytes, ingestedAtUs: value.ingestedAtUs });
    }
    return out;
  }

  waitFor(after: number, signal: AbortSignal): Promise<void> {
    if (this.visible > after || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.visible > after || signal.aborted) {
          this.waiters.delete(check);
          signal.removeEventListener('abort', check);
          resolve();
        }
      };
      this.waiters.add(check);
      signal.addEventListener('abort', check, { once: true });
    });
  }

  headOffset(): number {
    return this.visible;
  }

  schema(sourceKey: string, schema: string, table: string, version: number): TableSchema | undefined {
    const k = `${sourceKey}\u0000${schema}\u0000${table}\u0000${version}`;
    let s = this.schemaCache.get(k);
    if (s === undefined) {
      const b = this.schemas.get([sourceKey, schema, table, version]);
      if (b === undefined) return undefined;
      s = fromBinary(TableSchemaSchema, b);
      this.schemaCache.set(k, s);
    }
    return s;
  }

  schemaRecords(): SchemaRecord[] {
    return [...this.schemas.getRange({})].map(({ key, value }) => ({
      sourceKey: key[0],
      schema: this.schema(key[0], key[1], key[2], key[3]) ?? fromBinary(TableSchemaSchema, value),
      firstSeenUs: this.schemaSeen.get(key) ?? 0,
    }));
  }

  sinkOffset(sink: string): number {
    return this.offsets.get(sink) ?? 0;
  }

  async commitSinkOffset(sink: string, offset: number): Promise<void> {
    await this.offsets.put(sink, offset);
    await this.root.flushed;
  }

  async compact(sinks: readonly string[]): Promise<number> {
    if (sinks.length === 0) return 0;
    const upto = Math.min(...sinks.map((s) => this.sinkOffset(s)));
    const keys = [...this.entries.getKeys({ end: upto + 1 })];
    if (keys.length === 0) return 0;
    await this.root.transaction(() => {
      for (const k of keys) void this.entries.remove(k);
    });
    return keys.length;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const w of [...this.waiters]) w();
    await this.root.flushed;
    await this.root.close();
  }
}
