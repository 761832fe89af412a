/**
 * Turns decoded pgoutput messages into spool batches and confirms positions.
 *
 * Invariants (DESIGN.md, "The durability chain", link 1):
 * - a position is confirmed upstream only after the batch holding its
 *   transaction's commit is flushed to the spool;
 * - only commit positions are confirmed, never the middle of a transaction;
 * - a large transaction is spooled in pieces as it arrives (invisible until
 *   its commit), so it is never held whole in memory;
 * - a transaction the spool already holds (PostgreSQL resends after a crash
 *   between our flush and its confirmed_flush_lsn update) is dropped.
 */
import { create } from '@bufbuild/protobuf';
import { ColumnSchema, Op, TableSchemaSchema, ValueKind, type TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { BatchBuilder, EventTemplate, type BatchLimit } from '../../buffer/batch-builder.js';
import { SpoolWriter } from '../../buffer/spool-writer.js';
import type { ChangeBuffer, SchemaVersionRecord } from '../../buffer/change-buffer.js';
import { AgentError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { RowConverter } from './convert.js';
import { writeScalar } from './convert-scalar.js';
import type { PgOutputMessage, RelationMessage } from './protocol.js';
import { WATERMARK_PREFIX } from '../../snapshot/snapshot-source.js';
import { CaptureSnapshotHooks, type CaptureSnapshots } from './capture-snapshots.js';
import type { PgTypeCatalog, ResolvedType } from './types.js';
import { formatLsn } from './position.js';

interface RelationState {
  readonly tableKey: string;
  readonly schema: TableSchema;
  readonly converter: RowConverter;
  readonly fingerprint: string;
  /** The schema went into a batch in this session (it is sent once per version). */
  sent: boolean;
}

interface OpenTransaction {
  readonly commitLsn: bigint;
  readonly commitTimeUs: number;
  readonly xid: number;
  index: number;
  readonly skip: boolean;
}

export interface CaptureSink {
  /** Confirms a durable commit position to the server. */
  confirm(lsn: bigint): void;
  pause(): void;
  resume(): void;
  /** Ends the replication session (after a failure). */
  stop(): void;
}

const utf8 = new TextDecoder();

function fingerprintOf(columns: ReadonlyArray<{ name: string; key: boolean; resolved: ResolvedType }>): string {
  return JSON.stringify(columns.map((c) => [c.name, c.key, c.resolved.kind, c.resolved.sourceType]));
}

export class Capture {
  private readonly relations = new Map<number, RelationState>();
  private readonly versions = new Map<string, SchemaVersionRecord>();
  private readonly sentSchemas = new Set<string>();
  private tx: OpenTransaction | null = null;
  private readonly open = new BatchBuilder();
  /** Gathers committed transactions, writes them to the spool, confirms their end once durable. */
  private readonly spool: SpoolWriter;
  private readonly spooledEnd: bigint;
  private droppedResent = 0;
  private readonly writer = new RowWriter(4096);
  /** A relation whose new version needs its columns' missing values looked up before its rows are handled. */
  private lookup: { readonly relationId: number; readonly tableKey: string } | null = null;
  private readonly snapshots: CaptureSnapshotHooks | null;
  eventsCaptured = 0;

  constructor(
    private readonly buffer: ChangeBuffer,
    private readonly catalog: PgTypeCatalog,
    target: CaptureSink,
    private readonly log: Logger,
    private readonly batchLimit: BatchLimit,
    signal: AbortSignal,
    /** Changes of tables it does not accept are dropped (pipeline tables applied while running). */
    private readonly tables?: { accepts(schema: string, table: string): boolean },
    snapshots: CaptureSnapshots | null = null,
  ) {
    this.snapshots = snapshots === null ? null : new CaptureSnapshotHooks(snapshots);
    this.spooledEnd = buffer.state().committedPosition;
    this.spool = new SpoolWriter(buffer, target, log, signal);
  }

  /** The first error that stopped capture, if any (the session ends and restarts). */
  get error(): AgentError | null {
    return this.spool.error;
  }

  get backPressure(): boolean {
    return this.spool.backPressure;
  }

  /** True when nothing is buffered, in flight, or open: a keepalive position may be confirmed. */
  get idle(): boolean {
    return this.spool.idle && this.tx === null && this.open.eventCount === 0;
  }

  handle(msg: PgOutputMessage): void {
    switch (msg.tag) {
      case 'begin':
        // finalLsn is the commit record's LSN; anything below the spool's
        // last commit end was spooled before a restart.
        this.tx = { commitLsn: msg.finalLsn, commitTimeUs: msg.commitTimeUs, xid: msg.xid, index: 0, skip: msg.finalLsn < this.spooledEnd };
        return;
      case 'commit':
        return this.onCommit(msg.endLsn);
      case 'relation':
        return this.onRelation(msg);
      case 'insert':
        return this.onRow(msg.relationId, Op.INSERT, msg.newTuple, null, null);
      case 'update':
        return this.onRow(msg.relationId, Op.UPDATE, msg.newTuple, msg.oldTuple, msg.oldKind);
      case 'delete':
        return this.onRow(msg.relationId, Op.DELETE, null, msg.oldTuple, msg.oldKind);
      case 'truncate':
        for (const id of msg.relationIds) this.onTruncate(id);
        return;
      case 'message':
        // Our watermarks are transactional: they arrive inside their own
        // transaction, at its commit position in the stream.
        if (msg.prefix === WATERMARK_PREFIX && this.tx !== null && !this.tx.skip) this.onWatermark(utf8.decode(msg.content));
        return;
      default:
        return;
    }
  }

  private onRelation(msg: RelationMessage): void {
    const tableKey = `${msg.namespace}.${msg.name}`;
    const columns = this.resolveColumns(msg);
    this.registerRelation(msg, tableKey, columns, fingerprintOf(columns));
  }

  private resolveColumns(msg: RelationMessage): Array<RelationMessage['columns'][number] & { resolved: ResolvedType }> {
    const tableKey = `${msg.namespace}.${msg.name}`;
    return msg.columns.map((c) => {
      const t = this.catalog.resolve(c.typeOid, c.typeMod);
      // A type created after this session loaded the catalog (a new enum, say):
      // retryable, the next session reloads the catalog and resumes here.
      if (t === undefined) throw new AgentError('source-unavailable', `${tableKey}.${c.name}: type OID ${c.typeOid} is newer than the loaded type catalog; reconnecting to reload it`);
      return { ...c, resolved: t };
    });
  }

  private registerRelation(msg: RelationMessage, tableKey: string, columns: ReturnType<Capture['resolveColumns']>, fingerprint: string): void {
    let current = this.versions.get(tableKey) ?? this.buffer.schemaVersion(tableKey);
    if (current === undefined || current.fingerprint !== fingerprint) {
      current = { tableKey, version: (current?.version ?? 0) + 1, fingerprint };
      this.spool.addVersion(current);
      if (current.version > 1) this.lookup = { relationId: msg.relationId, tableKey };
    }
    this.versions.set(tableKey, current);
    const schema = create(TableSchemaSchema, {
      schema: msg.namespace,
      table: msg.name,
      version: current.version,
      relationId: msg.relationId,
      sincePosition: this.tx?.commitLsn ?? 0n,
      sinceIndex: this.tx?.index ?? 0,
      columns: columns.map((c) =>
        create(ColumnSchema, {
          name: c.name,
          kind: c.resolved.kind,
          elementKind: c.resolved.elementKind,
          sourceType: c.resolved.sourceType,
          key: c.key,
          nullable: !c.key,
          arrayDims: c.resolved.arrayDims,
        }),
      ),
    });
    if (!columns.some((c) => c.key))
      this.log.warn('table has no replica identity key; updates and deletes cannot be applied by key', { table: tableKey });
    this.relations.set(msg.relationId, { tableKey, schema, converter: new RowConverter(tableKey, columns), fingerprint, sent: this.sentSchemas.has(`${tableKey}@${current.version}`) });
  }

  /**
   * The relation whose new version (a changed table, not a new one) was just
   * seen, once: the caller looks up its columns' missing values
   * (missing-values.ts) and hands them to setMissing before any further
   * message is handled.
   */
  takeLookup(): { readonly relationId: number; readonly tableKey: string } | null {
    const l = this.lookup;
    this.lookup = null;
    return l;
  }

  /**
   * Records, in the version's schema, the value rows stored before a column
   * existed read as (PostgreSQL's attmissingval, as text in the replication
   * session's formats). Arrays are left out. Must be called before the
   * relation's first row is handled: the schema is sent with that row.
   */
  setMissing(relationId: number, values: ReadonlyMap<string, string>): void {
    const r = this.relations.get(relationId);
    if (r === undefined || r.sent) return;
    for (const col of r.schema.columns) {
      const text = values.get(col.name);
      if (text === undefined || col.kind === ValueKind.ARRAY) continue;
      const bytes = new TextEncoder().encode(text);
      try {
        this.writer.reset().columns(1);
        writeScalar(col.kind, bytes, 0, bytes.length, this.writer);
        col.missingValue = this.writer.finish();
      } catch (cause) {
        this.log.warn('a column default for existing rows could not be read; those rows keep NULL downstream', { table: r.tableKey, column: col.name, error: cause });
      }
    }
  }

  private relation(id: number): RelationState {
    const r = this.relations.get(id);
    if (r === undefined) throw new AgentError('protocol', `change for relation ${id} arrived before its Relation message`);
    if (!r.sent) {
      r.sent = true;
      this.sentSchemas.add(`${r.tableKey}@${r.schema.version}`);
      this.open.addSchema(r.schema);
    }
    return r;
  }

  private captures(relationId: number): boolean {
    const s = this.relations.get(relationId)?.schema;
    return this.tables === undefined || s === undefined || this.tables.accepts(s.schema, s.table);
  }

  private currentTx(): OpenTransaction {
    if (this.tx === null) throw new AgentError('protocol', 'row change outside a transaction');
    return this.tx;
  }

  private onRow(
    relationId: number,
    op: Op,
    newTuple: Parameters<RowConverter['writeRow']>[0] | null,
    oldTuple: Parameters<RowConverter['writeRow']>[0] | null,
    oldKind: 'K' | 'O' | null,
  ): void {
    const tx = this.currentTx();
    if (tx.skip) return;
    // Watermark rows, whatever the table filter says; never forwarded (not even their schema).
    const signal = this.snapshots?.signalTable ?? null;
    if (signal !== null) {
      const known = this.relations.get(relationId);
      if (known !== undefined && known.tableKey === signal) {
        const id = this.snapshots?.signalId(known.tableKey, known.converter, op, newTuple) ?? null;
        if (id !== null) this.onWatermark(id);
        return;
      }
    }
    if (!this.captures(relationId)) return;
    const r = this.relation(relationId);
    const keySource = newTuple ?? oldTuple;
    if (keySource === null) throw new AgentError('protocol', `${r.tableKey}: change without a tuple`);
    r.converter.writeKey(keySource, this.writer.reset());
    const key = this.writer.finish();
    const hooks = this.snapshots;
    if (hooks !== null && hooks.watching(r.tableKey)) {
      hooks.changed(r.tableKey, key);
      if (oldKind === 'K' && oldTuple !== null && newTuple !== null) {
        r.converter.writeKey(oldTuple, this.writer.reset());
        hooks.changed(r.tableKey, this.writer.finish());
      }
    }
    let before: Uint8Array | null = null;
    if (oldTuple !== null) {
      if (oldKind === 'K') r.converter.writeKeyImage(oldTuple, this.writer.reset());
      else r.converter.writeRow(oldTuple, this.writer.reset());
      before = this.writer.finish();
    }
    let after: Uint8Array | null = null;
    if (newTuple !== null) {
      r.converter.writeRow(newTuple, this.writer.reset());
      after = this.writer.finish();
    }
    this.addEvent(tx, r, op, key, before, after);
  }

  private onTruncate(relationId: number): void {
    const tx = this.currentTx();
    if (tx.skip || !this.captures(relationId)) return;
    const r = this.relation(relationId);
    this.snapshots?.truncated(r.tableKey);
    this.addEvent(tx, r, Op.TRUNCATE, new Uint8Array(0), null, null);
  }

  /**
   * A watermark seen in the stream. At a high watermark the engine hands back
   * the chunk rows that survived its window: they join this transaction as
   * READ events, at its commit position, with the chunk's progress record
   * stored in the same spool write as its end.
   */
  private onWatermark(id: string): void {
    const tx = this.currentTx();
    const emission = this.snapshots?.watermark(id) ?? null;
    if (emission === null) return;
    const meta = emission.meta.relation;
    const tableKey = `${meta.namespace}.${meta.name}`;
    const columns = this.resolveColumns(meta);
    const fingerprint = fingerprintOf(columns);
    const known = this.relations.get(meta.relationId);
    // A version first described by a chunk (the stream has not shown the
    // table in this session) is sent with the rows, before any missing-value
    // lookup: READ rows carry every column's value, so they need none.
    if (known === undefined) this.registerRelation(meta, tableKey, columns, fingerprint);
    else if (known.fingerprint !== fingerprint || known.tableKey !== tableKey) {
      emission.rejected('the table changed between the chunk SELECT and its high watermark');
      return;
    }
    const r = this.relation(meta.relationId);
    const shared = new EventTemplate({ schema: r.schema.schema, table: r.schema.table, op: Op.READ, commitPosition: tx.commitLsn, commitTimeUs: tx.commitTimeUs, txid: tx.xid, schemaVersion: r.schema.version });
    const rows = emission.rows;
    for (let i = 0; i < rows.length; i++) {
      this.open.appendFrom(shared, rows.key(i), null, rows.after(i), tx.index++);
      this.eventsCaptured++;
      if (this.open.reached(this.batchLimit)) this.flushPartial();
    }
    this.spool.addSnapshot(emission.record, emission.durable);
  }

  private addEvent(tx: OpenTransaction, r: RelationState, op: Op, key: Uint8Array, before: Uint8Array | null, after: Uint8Array | null): void {
    this.open.append({
      schema: r.schema.schema,
      table: r.schema.table,
      op,
      key,
      before,
      after,
      commitPosition: tx.commitLsn,
      indexInTx: tx.index++,
      commitTimeUs: tx.commitTimeUs,
      txid: tx.xid,
      schemaVersion: r.schema.version,
    });
    this.eventsCaptured++;
    if (this.open.reached(this.batchLimit)) this.flushPartial();
  }

  private onCommit(endLsn: bigint): void {
    const tx = this.tx;
    this.tx = null;
    if (tx === null) return;
    this.snapshots?.committed(tx.xid);
    if (tx.skip) {
      if (this.droppedResent++ === 0) this.log.info('dropping transactions the spool already holds (the server resent them after a restart)', { upTo: formatLsn(this.spooledEnd) });
      return;
    }
    // The commit time travels with the batch: a heartbeat transaction (no rows) included, so freshness is known when idle.
    this.spool.commit(this.open, endLsn, undefined, this.batchLimit, tx.commitTimeUs);
  }

  /** A large transaction: spool what is committed, then the open part, invisible until its commit. */
  private flushPartial(): void {
    this.spool.partial(this.open);
  }

  /** Spools every complete transaction gathered so far; their end is confirmed once durable. */
  flush(): void {
    this.spool.flush();
  }

  /** Resolves when every append handed to the spool has settled. */
  drain(): Promise<void> {
    return this.spool.drain();
  }

  /** Records the first failure and ends the session: nothing is confirmed after it. */
  fail(error: AgentError): void {
    this.spool.fail(error);
  }
}
