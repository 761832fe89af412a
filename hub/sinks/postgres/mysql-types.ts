/**
 * Destination types for columns of a MySQL/MariaDB source (TableSchema
 * source_dialect "mysql"), whose source_type is MySQL's COLUMN_TYPE and so
 * not a PostgreSQL type. Chosen to hold every source value exactly:
 * BIGINT UNSIGNED → numeric(20,0), TIME (±838:59:59) → interval, DATETIME →
 * timestamp, TIMESTAMP → timestamptz, character types → text (MySQL lengths
 * count characters of the column's charset, which PostgreSQL's varchar(n)
 * does not promise to match).
 */
import { ValueKind, type Column } from '../../../proto/gen/tributary/v1/change_pb.js';
import { HubError } from '../../errors.js';

function precision(sourceType: string): number {
  const m = /\((\d)\)/.exec(sourceType);
  return m === null ? 0 : Number(m[1]);
}

export function pgTypeForMySql(col: Column, where: string): string {
  switch (col.kind) {
    case ValueKind.INT16:
      return 'smallint';
    case ValueKind.INT32:
      return 'integer';
    case ValueKind.INT64:
      return 'bigint';
    case ValueKind.DECIMAL: {
      const m = /^decimal\((\d{1,2}),(\d{1,2})\)/.exec(col.sourceType);
      return m === null ? 'numeric(20,0)' : `numeric(${m[1]},${m[2]})`;
    }
    case ValueKind.FLOAT32:
      return 'real';
    case ValueKind.FLOAT64:
      return 'double precision';
    case ValueKind.BYTES:
      return 'bytea';
    case ValueKind.TEXT:
    case ValueKind.ENUM:
      return 'text';
    case ValueKind.JSON:
      return 'json';
    case ValueKind.DATE:
      return 'date';
    case ValueKind.TIMESTAMP:
      return `timestamp(${precision(col.sourceType)}) without time zone`;
    case ValueKind.TIMESTAMPTZ:
      return `timestamp(${precision(col.sourceType)}) with time zone`;
    case ValueKind.INTERVAL:
      return 'interval';
    default:
      throw new HubError('schema', `${where}: value kind ${col.kind} of a MySQL column has no PostgreSQL type`);
  }
}
