/**
 * MySQL/MariaDB column types → ValueKind. The column's type comes from the
 * binlog's own TABLE_MAP event (binlog_row_metadata=FULL: names, signedness,
 * enum/set values, charsets, primary key), so it describes the row images
 * that follow it exactly, whatever DDL runs later.
 */
import { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { AgentError } from '../../errors.js';

/** Binlog column type codes (MySQL include/field_types.h). */
export const MySqlType = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

/** What the row decoder and the converter need to know about one column. */
export interface MySqlColumn {
  readonly name: string;
  readonly type: number;
  readonly unsigned: boolean;
  /** True for character data (a charset), false for binary strings and non-strings. */
  readonly text: boolean;
  /** The COLUMN_TYPE as the binlog metadata gives it, e.g. "bigint unsigned", "datetime(6)". */
  readonly sourceType: string;
  readonly kind: ValueKind;
}

/**
 * The value kind for a column. Exact by construction: BIGINT UNSIGNED (up to
 * 2^64-1) is carried as a decimal, INT UNSIGNED as int64, SMALLINT UNSIGNED
 * as int32; TIME (−838:59:59 to 838:59:59) is an interval, not a time of day.
 */
export function valueKind(table: string, name: string, type: number, unsigned: boolean, text: boolean): ValueKind {
  switch (type) {
    case MySqlType.TINY:
    case MySqlType.YEAR:
      return ValueKind.INT16;
    case MySqlType.SHORT:
      return unsigned ? ValueKind.INT32 : ValueKind.INT16;
    case MySqlType.INT24:
      return ValueKind.INT32;
    case MySqlType.LONG:
      return unsigned ? ValueKind.INT64 : ValueKind.INT32;
    case MySqlType.LONGLONG:
      return unsigned ? ValueKind.DECIMAL : ValueKind.INT64;
    case MySqlType.FLOAT:
      return ValueKind.FLOAT32;
    case MySqlType.DOUBLE:
      return ValueKind.FLOAT64;
    case MySqlType.NEWDECIMAL:
      return ValueKind.DECIMAL;
    case MySqlType.BIT:
      return ValueKind.BYTES;
    case MySqlType.VARCHAR:
    case MySqlType.VAR_STRING:
    case MySqlType.STRING:
    case MySqlType.TINY_BLOB:
    case MySqlType.MEDIUM_BLOB:
    case MySqlType.LONG_BLOB:
    case MySqlType.BLOB:
      return text ? ValueKind.TEXT : ValueKind.BYTES;
    case MySqlType.DATE:
    case MySqlType.NEWDATE:
      return ValueKind.DATE;
    case MySqlType.DATETIME:
    case MySqlType.DATETIME2:
      return ValueKind.TIMESTAMP;
    case MySqlType.TIMESTAMP:
    case MySqlType.TIMESTAMP2:
      return ValueKind.TIMESTAMPTZ;
    case MySqlType.TIME:
    case MySqlType.TIME2:
      return ValueKind.INTERVAL;
    case MySqlType.ENUM:
      return ValueKind.ENUM;
    case MySqlType.SET:
      return ValueKind.TEXT;
    case MySqlType.JSON:
      return ValueKind.JSON;
    default:
      throw new AgentError(
        'source-misconfigured',
        `${table}.${name}: column type ${type} (${type === MySqlType.GEOMETRY ? 'GEOMETRY' : 'unknown'}) is not supported; exclude the table from source.tables`,
      );
  }
}

/** A zongji table-map entry, as far as we read it. */
export interface TableMapEntry {
  readonly parentSchema: string;
  readonly tableName: string;
  readonly columns: readonly { readonly name: string; readonly type: number; readonly charset: string | null }[];
  readonly columnSchemas: readonly { readonly COLUMN_TYPE: string; readonly UNSIGNED?: boolean }[];
}

export function tableColumns(entry: TableMapEntry): MySqlColumn[] {
  const table = `${entry.parentSchema}.${entry.tableName}`;
  return entry.columns.map((c, i) => {
    const schema = entry.columnSchemas[i];
    const unsigned = schema?.UNSIGNED === true;
    const text = c.charset !== null;
    return {
      name: c.name,
      type: c.type,
      unsigned,
      text,
      sourceType: schema?.COLUMN_TYPE ?? '',
      kind: valueKind(table, c.name, c.type, unsigned, text),
    };
  });
}
