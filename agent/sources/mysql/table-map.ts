/**
 * A table's shape as one TABLE_MAP event describes it (binlog_row_metadata=FULL),
 * turned into the TableSchema sent downstream and a fingerprint that decides
 * whether it is a new schema version.
 */
import { create } from '@bufbuild/protobuf';
import type { AnyBinlogEvent } from '@vlasky/zongji';
import { ColumnSchema, TableSchemaSchema, type TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { tableColumns, type MySqlColumn, type TableMapEntry } from './types.js';

export interface TableShape {
  readonly tableKey: string;
  readonly columns: readonly MySqlColumn[];
  readonly keyIndexes: readonly number[];
  readonly fingerprint: string;
  /** Column names and type codes, for the cheap same-shape check on every TABLE_MAP. */
  readonly names: readonly string[];
  readonly types: readonly number[];
}

export function tableShape(entry: TableMapEntry, primaryKey: readonly number[] | undefined): TableShape {
  const columns = tableColumns(entry);
  const keyIndexes = primaryKey ?? [];
  return {
    tableKey: `${entry.parentSchema}.${entry.tableName}`,
    columns,
    keyIndexes,
    fingerprint: shapeFingerprint(columns, keyIndexes),
    names: entry.columns.map((c) => c.name),
    types: entry.columns.map((c) => c.type),
  };
}

/** Decides whether a shape is a new schema version; the same for binlog and snapshot shapes. */
export function shapeFingerprint(columns: readonly MySqlColumn[], keyIndexes: readonly number[]): string {
  const keys = new Set(keyIndexes);
  return JSON.stringify(columns.map((c, i) => [c.name, keys.has(i), c.kind, c.sourceType]));
}

/** True when a TABLE_MAP describes the same columns as a shape already known (the common case: every statement maps its tables). */
export function sameShape(s: TableShape, e: TableMapEntry): boolean {
  const cols = e.columns;
  if (cols.length !== s.names.length) return false;
  for (let i = 0; i < cols.length; i++) if (cols[i]!.name !== s.names[i] || cols[i]!.type !== s.types[i]) return false;
  return `${e.parentSchema}.${e.tableName}` === s.tableKey;
}

export function tableSchema(entry: TableMapEntry, shape: TableShape, version: number, tableId: number, since: bigint): TableSchema {
  const keys = new Set(shape.keyIndexes);
  return create(TableSchemaSchema, {
    schema: entry.parentSchema,
    table: entry.tableName,
    version,
    relationId: tableId % 2 ** 32,
    sincePosition: since,
    sourceDialect: 'mysql',
    columns: shape.columns.map((c, i) => create(ColumnSchema, { name: c.name, kind: c.kind, sourceType: c.sourceType, key: keys.has(i), nullable: !keys.has(i) })),
  });
}

/** Event names by event class: zongji derives them from the class name on every call. */
const names = new Map<unknown, string>();
export function eventName(e: AnyBinlogEvent): string {
  let n = names.get(e.constructor);
  if (n === undefined) {
    n = e.getEventName();
    names.set(e.constructor, n);
  }
  return n;
}
