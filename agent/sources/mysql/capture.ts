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
 *   (the server may resend it when resuming by file/position).
 *
 * commit_position: `file number × 2^32 + end offset of the transaction's
 * first event` (its GTID event, or BEGIN). The server writes a transaction's
 * events contiguously into the binlog at commit, in commit order, so this
 * value increases with commit order, and it is known before the row events
 * arrive (the end offset of the commit event is not).
 */
import type { AnyBinlogEvent, MariadbGtidEvent, QueryEvent, TableMapEvent } from '@vlasky/zongji';
import { Op, type TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { BatchBuilder, encodeEvent } from '../../buffer/batch-builder.js';
import type { ChangeBuffer, SchemaVersionRecord } from '../../buffer/change-buffer.js';
import { AgentError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ZeroDatePolicy } from './config.js';
import { RowConverter } from './convert.js';
import { advanceMariaDb, commitPosition, encodeResume, parseMySqlGtidSet, type GtidPosition, type MariaDbGtid, type ResumePosition } from './position.js';
import { ddlNotice } from './ddl-notice.js';
import { eventName, sameShape, tableSchema, tableShape, type TableShape } from './table-map.js';
import type { TableMapEntry } from './types.js';
import { SpoolWriter, type SpoolTarget } from '../../buffer/spool-writer.js';

interface TableState {
  readonly tableKey: string;
  readonly shape: TableShape;
  readonly schema: TableSchema;
  readonly converter: RowConverter;
  sent: boolean;
}

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
  readonly batchEvents: number;
  readonly zeroDates: ZeroDatePolicy;
  readonly signal: AbortSignal;
  /** Where streaming starts (the spooled resume position). */
  readonly start: ResumePosition;
  /** The MySQL-flavour executed GTID set after the current event (zongji tracks it). */
  readonly mysqlGtidSet: () => string | undefined;
  /** Reports a dropped or renamed table (ddl-notice.ts) to the hub; not durable, informational. */
  readonly notify?: ((kind: string, payload: unknown) => void) | undefined;
  /** `database.table` of the agent's heartbeat table: its rows are freshness, never changes. */
  readonly heartbeatTable?: string | null;
}

export class Capture {
  private readonly tables = new Map<number, TableState>();
  /** Table ids the binlog maps to the heartbeat table. */
  private readonly heartbeatIds = new Set<number>();
  private readonly byName = new Map<string, TableState>();
  private readonly versions = new Map<string, SchemaVersionRecord>();
  private readonly sentSchemas = new Set<string>();
  private readonly writer = new RowWriter(4096);
  private readonly open = new BatchBuilder();
  private readonly spool: SpoolWriter;
  private readonly spooledEnd: bigint;
  private tx: OpenTransaction | null = null;
  private file: string;
  private gtid: GtidPosition | null;
  private dropped = 0;
  /** Newest position the server reported (heartbeats and events). */
  serverPosition = 0n;
  eventsCaptured = 0;

  constructor(private readonly o: CaptureOptions) {
    this.spooledEnd = o.buffer.state().committedPosition;
    this.file = o.start.file;
    this.gtid = o.start.gtid;
    this.spool = new SpoolWriter(o.buffer, o.target, o.log, o.signal);
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
    switch (eventName(e)) {
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
        return this.onTableMap(e as TableMapEvent);
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
    this.tables.clear();
    this.heartbeatIds.clear();
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

  private onTableMap(e: TableMapEvent): void {
    const entry = e.tableMap[e.tableId] as unknown as TableMapEntry | undefined;
    if (entry === undefined) return;
    if (this.o.heartbeatTable != null && `${entry.parentSchema}.${entry.tableName}` === this.o.heartbeatTable) {
      this.heartbeatIds.add(e.tableId);
      return;
    }
    const prev = this.tables.get(e.tableId);
    if (prev !== undefined && sameShape(prev.shape, entry)) return;
    const shape = tableShape(entry, e.primaryKey);
    const tableKey = shape.tableKey;
    let current = this.versions.get(tableKey) ?? this.o.buffer.schemaVersion(tableKey);
    if (current === undefined || current.fingerprint !== shape.fingerprint) {
      current = { tableKey, version: (current?.version ?? 0) + 1, fingerprint: shape.fingerprint };
      this.spool.addVersion(current);
    }
    this.versions.set(tableKey, current);
    if (shape.keyIndexes.length === 0) this.o.log.warn('table has no primary key; updates and deletes cannot be applied by key', { table: tableKey });
    const converter = new RowConverter(tableKey, shape.columns, shape.keyIndexes, this.o.zeroDates, (column) =>
      this.o.log.warn('zero date landed as NULL (source.zeroDates is "null")', { table: tableKey, column }),
    );
    const state: TableState = {
      tableKey,
      shape,
      schema: tableSchema(entry, shape, current.version, e.tableId, this.tx?.position ?? 0n),
      converter,
      sent: this.sentSchemas.has(`${tableKey}@${current.version}`),
    };
    this.tables.set(e.tableId, state);
    this.byName.set(tableKey, state);
  }

  private table(tableId: number): TableState {
    const t = this.tables.get(tableId);
    if (t === undefined) throw new AgentError('protocol', `row event for table id ${tableId} arrived before its TABLE_MAP event`);
    return this.markSent(t);
  }

  private markSent(t: TableState): TableState {
    if (!t.sent) {
      t.sent = true;
      this.sentSchemas.add(`${t.tableKey}@${t.schema.version}`);
      this.open.addSchema(t.schema);
    }
    return t;
  }

  private onRows(e: AnyBinlogEvent): void {
    const tx = this.tx;
    if (tx === null) throw new AgentError('protocol', 'row event outside a transaction');
    if (tx.skip) return;
    const tableId = (e as { tableId: number }).tableId;
    if (this.heartbeatIds.has(tableId)) return this.onHeartbeat(tx, e);
    const op = ROW_OPS[eventName(e)]!;
    const t = this.table((e as { tableId: number }).tableId);
    const w = this.writer;
    const c = t.converter;
    for (const row of (e as { rows: Record<string, unknown>[] }).rows) {
      const image = op === Op.UPDATE ? (row as { after: Record<string, unknown> }).after : row;
      c.writeKey(image, w.reset());
      const key = w.finish();
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
    const t = this.byName.get(tableKey);
    if (t !== undefined) {
      this.markSent(t);
      return this.addEvent(tx, db, table, t.schema.version, Op.TRUNCATE, new Uint8Array(0), null, null);
    }
    // Not seen in this session (after a restart, say): the hub already holds the
    // version the spool recorded, and a truncate needs only the table's name.
    const v = this.versions.get(tableKey) ?? this.o.buffer.schemaVersion(tableKey);
    if (v === undefined) {
      this.o.log.info('TRUNCATE of a table with no captured rows: nothing to truncate downstream', { table: tableKey });
      return;
    }
    this.addEvent(tx, db, table, v.version, Op.TRUNCATE, new Uint8Array(0), null, null);
  }

  private addEvent(tx: OpenTransaction, db: string, table: string, version: number, op: Op, key: Uint8Array, before: Uint8Array | null, after: Uint8Array | null): void {
    this.open.addEvent(
      encodeEvent({
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
      }),
    );
    this.eventsCaptured++;
    if (this.open.eventCount >= this.o.batchEvents) this.spool.partial(this.open);
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
    const resume = { gtid: this.gtid, file: this.file, pos: endPos };
    // Source time: the commit's binlog timestamp (whole seconds), or the heartbeat's server clock (µs).
    this.spool.commit(this.open, tx.position, () => encodeResume(resume), this.o.batchEvents, Math.max(tx.timeUs, tx.heartbeatUs));
  }

  /** True when nothing is open or in flight. */
  get idle(): boolean {
    return this.tx === null && this.spool.idle && this.open.eventCount === 0;
  }
}
