/**
 * Turns binlog events into spool batches.
 *
 * Invariants (DESIGN.md, "The durability chain", link 1):
 * - only complete transactions (ended by Xid, a COMMIT query, or a DDL
 *   statement, which commits implicitly) become visible in the spool; a large
 *   transaction is spooled in pieces as it arrives, invisible until its end;
 * - the resume position (GTID set, binlog file/position) after a transaction
 *   is stored in the same spool write as the batch that ends it;
 * - a transaction at or below the spool's last commit position is dropped
 *   (the server may resend it when resuming by file/position);
 * - snapshot chunk rows (agent/snapshot/) enter as READ events at their high
 *   watermark: inside the signal-table transaction that is one, or (read-only
 *   watermarks) alone between two transactions at the read position, with
 *   the chunk's progress record in the same spool write as their end.
 *
 * commit_position: `file number × 2^32 + end offset of the transaction's
 * first event` (its GTID event, or BEGIN). The server writes a transaction's
 * events contiguously into the binlog at commit, in commit order, so this
 * value increases with commit order, and it is known before the row events
 * arrive (the end offset of the commit event is not).
 */
import type { AnyBinlogEvent, MariadbGtidEvent, QueryEvent, TableMapEvent } from '@vlasky/zongji';
import { Op } from '../../../proto/gen/tributary/v1/change_pb.js';
import { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { BatchBuilder, EventTemplate, type BatchLimit } from '../../buffer/batch-builder.js';
import type { ChangeBuffer } from '../../buffer/change-buffer.js';
import { AgentError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ZeroDatePolicy } from './config.js';
import { advanceMariaDb, commitPosition, encodeResume, parseMySqlGtidSet, type GtidPosition, type MariaDbGtid, type ResumePosition } from './position.js';
import { ddlNotice } from './ddl-notice.js';
import { eventName } from './table-map.js';
import { SpoolWriter, type SpoolTarget } from '../../buffer/spool-writer.js';
import { CaptureTables, type TableState } from './capture-tables.js';
import type { SnapshotEmission, SnapshotHooks } from '../../snapshot/snapshot-source.js';
import { CaptureWatermarks } from './capture-watermarks.js';
import type { MySqlChunkMeta, VirtualWatermarks } from './snapshot.js';

interface OpenTransaction {
  readonly position: bigint;
  readonly timeUs: number;
  readonly gtid: MariaDbGtid | null;
  /** Opened by BEGIN or a transactional GTID: only COMMIT or Xid ends it. */
  readonly explicit: boolean;
  readonly skip: boolean;
  index: number;
  /** Server clock of a heartbeat row written in this transaction (µs; 0 = none). */
  heartbeatUs: number;
}

const ROW_OPS: Readonly<Record<string, Op>> = { writerows: Op.INSERT, updaterows: Op.UPDATE, deleterows: Op.DELETE };
const IN_TX_STATEMENT = /^(SAVEPOINT|ROLLBACK TO|RELEASE SAVEPOINT|XA )/i;
const TRUNCATE = /^TRUNCATE\s+(?:TABLE\s+)?(?:`([^`]+)`|(\w+))(?:\.(?:`([^`]+)`|(\w+)))?\s*$/i;

export interface CaptureOptions {
  readonly buffer: ChangeBuffer;
  readonly target: SpoolTarget;
  readonly log: Logger;
  readonly batchLimit: BatchLimit;
  readonly zeroDates: ZeroDatePolicy;
  readonly signal: AbortSignal;
  /** Where streaming starts (the spooled resume position). */
  readonly start: ResumePosition;
  /** The MySQL-flavour executed GTID set after the current event (zongji tracks it). */
  readonly mysqlGtidSet: () => string | undefined;
  /** Snapshot wiring (agent/snapshot/), or null without snapshots. */
  readonly snapshots: CaptureSnapshots | null;
  /** Reports a dropped or renamed table (ddl-notice.ts) to the hub; not durable, informational. */
  readonly notify?: ((kind: string, payload: unknown) => void) | undefined;
  /** `database.table` of the agent's heartbeat table: its rows are freshness, never changes. */
  readonly heartbeatTable?: string | null;
}

/** The engine's hooks, and the signal table when watermarks are rows in it (else read-only watermarks). */
export interface CaptureSnapshots {
  readonly hooks: SnapshotHooks<MySqlChunkMeta>;
  readonly signalTable: string | null;
}

export class Capture implements VirtualWatermarks {
  private readonly t: CaptureTables;
  private readonly writer = new RowWriter(4096);
  private readonly open = new BatchBuilder();
  private readonly spool: SpoolWriter;
  private readonly spooledEnd: bigint;
  private tx: OpenTransaction | null = null;
  private file: string;
  private gtid: GtidPosition | null;
  private dropped = 0;
  /** Binlog offset just after the last transaction handed to the spool (the resume point). */
  private endPos: number;
  private endFile: string;
  private readonly w: CaptureWatermarks;
  /** Newest position the server reported (heartbeats and events). */
  serverPosition = 0n;
  eventsCaptured = 0;

  constructor(private readonly o: CaptureOptions) {
    this.spooledEnd = o.buffer.state().committedPosition;
    this.file = o.start.file;
    this.gtid = o.start.gtid;
    this.endPos = o.start.pos;
    this.endFile = o.start.file;
    this.spool = new SpoolWriter(o.buffer, o.target, o.log, o.signal);
    this.w = new CaptureWatermarks(o.snapshots?.hooks ?? null);
    this.t = new CaptureTables({
      buffer: o.buffer,
      log: o.log,
      zeroDates: o.zeroDates,
      signalTable: o.snapshots?.signalTable ?? null,
      heartbeatTable: o.heartbeatTable ?? null,
      addVersion: (v) => this.spool.addVersion(v),
    });
  }

  get error(): AgentError | null {
    return this.spool.error;
  }
  get backPressure(): boolean {
    return this.spool.backPressure;
  }
  fail(err: AgentError): void {
    this.spool.fail(err);
  }
  drain(): Promise<void> {
    return this.spool.drain();
  }

  handle(e: AnyBinlogEvent): void {
    const name = eventName(e);
    this.dispatch(e, name);
    if (name === 'rotate') {
      const r = e as { binlogName: string; position: number };
      this.reached(commitPosition(r.binlogName, r.position));
    } else if (name === 'heartbeat') {
      // Sent only when the server has nothing more: everything before it was read.
      const h = e as { binlogName: string; nextPosition: number };
      if (h.nextPosition > 0) this.reached(commitPosition(h.binlogName, h.nextPosition));
    } else if (e.nextPosition > 0) this.reached(commitPosition(this.file, e.nextPosition));
  }

  private dispatch(e: AnyBinlogEvent, name: string): void {
    switch (name) {
      case 'rotate':
        this.file = (e as { binlogName: string }).binlogName;
        return;
      case 'heartbeat': {
        const h = e as { binlogName: string; nextPosition: number };
        if (h.nextPosition > 0) this.serverPosition = commitPosition(h.binlogName, h.nextPosition);
        return;
      }
      case 'mariadbgtid': {
        const g = e as MariadbGtidEvent;
        return this.begin(e.nextPosition, e.timestamp, { domain: g.domainId, server: g.serverId, seq: BigInt(g.seqNo) }, !g.standalone);
      }
      case 'gtid':
      case 'anonymousgtid':
        return this.begin(e.nextPosition, e.timestamp, null, false);
      case 'tablemap':
        return this.t.map(e as TableMapEvent, this.tx?.position ?? 0n);
      case 'writerows':
      case 'updaterows':
      case 'deleterows':
        return this.onRows(e);
      case 'xid':
        return this.commit(e.nextPosition);
      case 'query':
        return this.onQuery(e as QueryEvent);
      case 'transactionpayload':
      case 'partialupdaterows':
        throw new AgentError(
          'source-misconfigured',
          `the binlog holds a ${e.getTypeName()} event, which cannot be decoded: set binlog_transaction_compression=OFF and binlog_row_value_options='' on the server`,
        );
      default:
        return;
    }
  }

  private begin(endPos: number, timestampMs: number, gtid: MariaDbGtid | null, explicit: boolean): void {
    const position = commitPosition(this.file, endPos);
    this.tx = { position, timeUs: timestampMs * 1000, gtid, explicit, skip: position <= this.spooledEnd, index: 0, heartbeatUs: 0 };
    if (position > this.serverPosition) this.serverPosition = position;
  }

  private onQuery(e: QueryEvent): void {
    const q = e.query.trim();
    const upper = q.slice(0, 20).toUpperCase();
    if (upper === 'BEGIN') {
      if (this.tx === null) this.begin(e.nextPosition, e.timestamp, null, true);
      else this.tx = { ...this.tx, explicit: true };
      return;
    }
    if (upper === 'COMMIT' || upper === 'ROLLBACK') return this.commit(e.nextPosition);
    if (IN_TX_STATEMENT.test(q)) return;
    // Any other statement in a ROW-format binlog is DDL (or an administrative
    // statement); it commits implicitly. The next TABLE_MAP of an altered table
    // carries its new columns, so rows after this point decode with them.
    if (this.tx === null) this.begin(e.nextPosition, e.timestamp, null, false);
    this.t.forgetIds();
    const notice = this.tx?.skip === true ? null : ddlNotice(q, e.schema);
    if (notice !== null) {
      this.o.log.info('table DDL', { ...notice });
      this.o.notify?.(notice.kind, { ...notice, position: this.tx?.position.toString() });
    }
    const t = TRUNCATE.exec(q);
    if (t !== null) {
      const db = t[3] !== undefined || t[4] !== undefined ? (t[1] ?? t[2]) : e.schema;
      const table = t[3] ?? t[4] ?? t[1] ?? t[2];
      if (db !== undefined && table !== undefined) this.onTruncate(db, table);
    }
    if (!this.tx!.explicit) this.commit(e.nextPosition);
  }

  private table(tableId: number): TableState {
    return this.t.markSent(this.t.table(tableId), this.open);
  }

  private onRows(e: AnyBinlogEvent): void {
    const tx = this.tx;
    if (tx === null) throw new AgentError('protocol', 'row event outside a transaction');
    if (tx.skip) return;
    const tableId = (e as { tableId: number }).tableId;
    if (this.t.isHeartbeat(tableId)) return this.onHeartbeat(tx, e);
    const op = ROW_OPS[eventName(e)]!;
    if (this.t.isSignal(tableId)) {
      if (op === Op.INSERT) for (const emission of this.w.signalRows((e as { rows: Record<string, unknown>[] }).rows)) this.emit(tx, emission);
      return;
    }
    const t = this.table(tableId);
    const w = this.writer;
    const c = t.converter;
    const hooks = this.o.snapshots?.hooks;
    const watched = hooks !== undefined && hooks.watching(t.tableKey);
    for (const row of (e as { rows: Record<string, unknown>[] }).rows) {
      const image = op === Op.UPDATE ? (row as { after: Record<string, unknown> }).after : row;
      c.writeKey(image, w.reset());
      const key = w.finish();
      if (watched) {
        hooks.changed(t.tableKey, key);
        if (op === Op.UPDATE) {
          // A key change: the old key's row is gone as of this change too.
          c.writeKey((row as { before: Record<string, unknown> }).before, w.reset());
          hooks.changed(t.tableKey, w.finish());
        }
      }
      let before: Uint8Array | null = null;
      let after: Uint8Array | null = null;
      if (op !== Op.INSERT) {
        c.writeRow(op === Op.UPDATE ? (row as { before: Record<string, unknown> }).before : row, w.reset());
        before = w.finish();
      }
      if (op !== Op.DELETE) {
        c.writeRow(image, w.reset());
        after = w.finish();
      }
      this.addEvent(tx, t.schema.schema, t.schema.table, t.schema.version, op, key, before, after);
    }
  }

  /** A heartbeat row (heartbeat.ts): its server-clock `beat_us` becomes the transaction's source time. */
  private onHeartbeat(tx: OpenTransaction, e: AnyBinlogEvent): void {
    for (const row of (e as { rows: Record<string, unknown>[] }).rows) {
      const image = (row as { after?: Record<string, unknown> }).after ?? row;
      const us = Number(image['beat_us']);
      if (Number.isSafeInteger(us) && us > tx.heartbeatUs) tx.heartbeatUs = us;
    }
  }

  private onTruncate(db: string, table: string): void {
    const tx = this.tx!;
    if (tx.skip) return;
    const tableKey = `${db}.${table}`;
    this.o.snapshots?.hooks.truncated(tableKey);
    const t = this.t.named(tableKey);
    if (t !== undefined) {
      this.t.markSent(t, this.open);
      return this.addEvent(tx, db, table, t.schema.version, Op.TRUNCATE, new Uint8Array(0), null, null);
    }
    // Not seen in this session (after a restart, say): the hub already holds the
    // version the spool recorded, and a truncate needs only the table's name.
    const v = this.t.latest(tableKey);
    if (v === undefined) {
      this.o.log.info('TRUNCATE of a table with no captured rows: nothing to truncate downstream', { table: tableKey });
      return;
    }
    this.addEvent(tx, db, table, v.version, Op.TRUNCATE, new Uint8Array(0), null, null);
  }

  private addEvent(tx: OpenTransaction, db: string, table: string, version: number, op: Op, key: Uint8Array, before: Uint8Array | null, after: Uint8Array | null): void {
    this.open.append({
      schema: db,
      table,
      op,
      key,
      before,
      after,
      commitPosition: tx.position,
      indexInTx: tx.index++,
      commitTimeUs: tx.timeUs,
      txid: 0,
      schemaVersion: version,
    });
    this.eventsCaptured++;
    if (this.open.reached(this.o.batchLimit)) this.spool.partial(this.open);
  }

  private commit(endPos: number): void {
    const tx = this.tx;
    this.tx = null;
    if (tx === null) return;
    if (tx.skip) {
      if (this.dropped++ === 0) this.o.log.info('dropping transactions the spool already holds (the server resent them)');
      return;
    }
    if (tx.gtid !== null) this.gtid = advanceMariaDb(this.gtid, tx.gtid);
    else {
      const set = this.o.mysqlGtidSet();
      if (set !== undefined && set !== '') this.gtid = parseMySqlGtidSet(set);
    }
    this.endPos = endPos;
    this.endFile = this.file;
    const resume = { gtid: this.gtid, file: this.file, pos: endPos };
    // Source time: the commit's binlog timestamp (whole seconds), or the heartbeat's server clock (µs).
    this.spool.commit(this.open, tx.position, () => encodeResume(resume), this.o.batchLimit, Math.max(tx.timeUs, tx.heartbeatUs));
  }

  /** Read-only low watermark: the window opens at the capture's current point. */
  low(id: string): void {
    this.w.low(id);
  }

  /** Read-only high watermark: closes once the binlog is read up to `position`, between transactions. */
  high(id: string, position: bigint): void {
    this.w.high(id, position);
    this.closeDue();
  }

  private reached(position: bigint): void {
    this.w.reached(position);
    this.closeDue();
  }

  private closeDue(): void {
    if (this.tx !== null || this.spool.error !== null) return;
    for (const emission of this.w.due()) {
      // Rows of their own, between the last transaction read and the next: at
      // the read position, which lies strictly between their commit positions.
      const tx: OpenTransaction = { position: this.w.position, timeUs: Date.now() * 1000, gtid: null, explicit: false, skip: false, index: 0, heartbeatUs: 0 };
      this.emit(tx, emission);
      const resume = { gtid: this.gtid, file: this.endFile, pos: this.endPos };
      this.spool.commit(this.open, tx.position, () => encodeResume(resume), this.o.batchLimit);
    }
  }

  /** Chunk rows that survived their window, as READ events in `tx`; the chunk's record goes with the batch that ends it. */
  private emit(tx: OpenTransaction, emission: SnapshotEmission<MySqlChunkMeta>): void {
    const t = this.t.forSnapshot(emission.meta.shape, tx.position);
    if (t === null) return emission.rejected('the table changed between the chunk SELECT and its high watermark');
    this.t.markSent(t, this.open);
    const shared = new EventTemplate({ schema: t.schema.schema, table: t.schema.table, op: Op.READ, commitPosition: tx.position, commitTimeUs: tx.timeUs, txid: 0, schemaVersion: t.schema.version });
    const rows = emission.rows;
    for (let i = 0; i < rows.length; i++) {
      this.open.appendFrom(shared, rows.key(i), null, rows.after(i), tx.index++);
      this.eventsCaptured++;
      if (this.open.reached(this.o.batchLimit)) this.spool.partial(this.open);
    }
    this.spool.addSnapshot(emission.record, emission.durable);
  }

  /** True when nothing is open or in flight. */
  get idle(): boolean {
    return this.tx === null && this.spool.idle && this.open.eventCount === 0;
  }
}
