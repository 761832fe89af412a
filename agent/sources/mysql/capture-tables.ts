/**
 * The capture's table knowledge for one session: table ids from TABLE_MAP
 * events, schema versions (a version exists iff its batch is spooled: new
 * ones go to the spool with the transaction that introduces them), which
 * schemas this session already put into a batch, and the shapes of snapshot
 * chunks (snapshot-shape.ts) matched to those versions.
 */
import type { TableMapEvent } from '@vlasky/zongji';
import type { TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import type { BatchBuilder } from '../../buffer/batch-builder.js';
import type { ChangeBuffer, SchemaVersionRecord } from '../../buffer/change-buffer.js';
import { AgentError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ZeroDatePolicy } from './config.js';
import { RowConverter } from './convert.js';
import type { SnapshotTable } from './snapshot-shape.js';
import { sameShape, tableSchema, tableShape, type TableShape } from './table-map.js';
import type { TableMapEntry } from './types.js';

export interface TableState {
  readonly tableKey: string;
  readonly shape: TableShape;
  readonly schema: TableSchema;
  readonly converter: RowConverter;
  sent: boolean;
}

export interface CaptureTablesOptions {
  readonly buffer: ChangeBuffer;
  readonly log: Logger;
  readonly zeroDates: ZeroDatePolicy;
  /** `database.table` whose rows are snapshot watermarks, or null. */
  readonly signalTable: string | null;
  /** `database.table` of the agent's heartbeat table (its rows are freshness, never changes), or null. */
  readonly heartbeatTable: string | null;
  /** Records a new schema version with the open transaction. */
  readonly addVersion: (v: SchemaVersionRecord) => void;
}

export class CaptureTables {
  private readonly tables = new Map<number, TableState>();
  private readonly byName = new Map<string, TableState>();
  private readonly versions = new Map<string, SchemaVersionRecord>();
  private readonly sentSchemas = new Set<string>();
  /** Table ids of the signal table (its rows are watermarks, never forwarded). */
  private readonly signalIds = new Set<number>();
  /** Table ids of the heartbeat table. */
  private readonly heartbeatIds = new Set<number>();
  /** States for snapshot rows of tables this session has not mapped from the binlog. */
  private readonly snapshotTables = new Map<string, TableState>();

  constructor(private readonly o: CaptureTablesOptions) {}

  /** A DDL statement: table ids are mapped again before their next rows. */
  forgetIds(): void {
    this.tables.clear();
    this.heartbeatIds.clear();
  }

  isHeartbeat(tableId: number): boolean {
    return this.heartbeatIds.has(tableId);
  }

  isSignal(tableId: number): boolean {
    return this.signalIds.has(tableId);
  }

  map(e: TableMapEvent, txPosition: bigint): void {
    const entry = e.tableMap[e.tableId] as unknown as TableMapEntry | undefined;
    if (entry === undefined) return;
    const name = `${entry.parentSchema}.${entry.tableName}`;
    if (name === this.o.heartbeatTable) return void this.heartbeatIds.add(e.tableId);
    if (name === this.o.signalTable) return void this.signalIds.add(e.tableId);
    const prev = this.tables.get(e.tableId);
    if (prev !== undefined && sameShape(prev.shape, entry)) return;
    const shape = tableShape(entry, e.primaryKey);
    const tableKey = shape.tableKey;
    const current = this.version(tableKey, shape.fingerprint);
    if (shape.keyIndexes.length === 0) this.o.log.warn('table has no primary key; updates and deletes cannot be applied by key', { table: tableKey });
    const state = this.state(shape, tableSchema(entry, shape, current.version, e.tableId, txPosition));
    this.tables.set(e.tableId, state);
    this.byName.set(tableKey, state);
  }

  /** The state of a mapped table id. */
  table(tableId: number): TableState {
    const t = this.tables.get(tableId);
    if (t === undefined) throw new AgentError('protocol', `row event for table id ${tableId} arrived before its TABLE_MAP event`);
    return t;
  }

  /** The last state this session mapped for a table name, if any. */
  named(tableKey: string): TableState | undefined {
    return this.byName.get(tableKey);
  }

  /** The table's latest schema version record (this session's, else the spool's). */
  latest(tableKey: string): SchemaVersionRecord | undefined {
    return this.versions.get(tableKey) ?? this.o.buffer.schemaVersion(tableKey);
  }

  /** Puts the table's schema into `open` the first time this session uses its version. */
  markSent(t: TableState, open: BatchBuilder): TableState {
    if (!t.sent) {
      t.sent = true;
      this.sentSchemas.add(`${t.tableKey}@${t.schema.version}`);
      open.addSchema(t.schema);
    }
    return t;
  }

  /**
   * The state for snapshot rows read with `s`: the binlog's current one when
   * this session mapped the table (same columns and kinds: the rows encode
   * alike), else the spool's latest version when it has the same fingerprint,
   * else a new version. Null: the binlog's columns differ (the table changed
   * between the chunk's SELECT and now).
   */
  forSnapshot(s: SnapshotTable, position: bigint): TableState | null {
    for (const t of this.tables.values()) {
      if (t.tableKey !== s.tableKey) continue;
      const cols = t.shape.columns;
      return cols.length === s.columns.length && cols.every((c, i) => c.name === s.columns[i]!.name && c.kind === s.columns[i]!.kind) ? t : null;
    }
    const known = this.snapshotTables.get(s.tableKey);
    if (known !== undefined && known.shape.fingerprint === s.fingerprint) return known;
    const current = this.version(s.tableKey, s.fingerprint);
    const shape: TableShape = { tableKey: s.tableKey, columns: s.columns, keyIndexes: s.keyOrder, fingerprint: s.fingerprint, names: s.columns.map((c) => c.name), types: s.columns.map((c) => c.type) };
    const entry: TableMapEntry = { parentSchema: s.db, tableName: s.table, columns: [], columnSchemas: [] };
    const state = this.state(shape, tableSchema(entry, shape, current.version, 0, position));
    this.snapshotTables.set(s.tableKey, state);
    return state;
  }

  private version(tableKey: string, fingerprint: string): SchemaVersionRecord {
    let current = this.latest(tableKey);
    if (current === undefined || current.fingerprint !== fingerprint) {
      current = { tableKey, version: (current?.version ?? 0) + 1, fingerprint };
      this.o.addVersion(current);
    }
    this.versions.set(tableKey, current);
    return current;
  }

  private state(shape: TableShape, schema: TableSchema): TableState {
    const tableKey = shape.tableKey;
    const converter = new RowConverter(tableKey, shape.columns, shape.keyIndexes, this.o.zeroDates, (column) =>
      this.o.log.warn('zero date landed as NULL (source.zeroDates is "null")', { table: tableKey, column }),
    );
    return { tableKey, shape, schema, converter, sent: this.sentSchemas.has(`${tableKey}@${schema.version}`) };
  }
}
