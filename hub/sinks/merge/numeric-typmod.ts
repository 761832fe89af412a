/**
 * Precision and scale of an exact-numeric source column (value kind
 * DECIMAL), read from its source type in the source's own dialect, for the
 * warehouse sinks that pick a fixed-point destination type by them:
 * PostgreSQL `numeric(p,s)`; MySQL `decimal(p,s)` (optionally `unsigned`) and
 * `bigint unsigned`, which the MySQL source carries as a decimal because it
 * reaches 2^64-1: always (20,0). Null when the source type has no typmod
 * (PostgreSQL `numeric`) or is not understood.
 */
import type { Column } from '../../../proto/gen/tributary/v1/change_pb.js';

export interface NumericTypmod {
  readonly precision: number;
  readonly scale: number;
}

const PG_NUMERIC = /^(?:numeric|decimal)\((\d+)(?:,\s*(\d+))?\)/;
const MYSQL_DECIMAL = /^(?:decimal|numeric)\((\d+)(?:,(\d+))?\)/i;
const MYSQL_BIGINT = /^bigint(?:\(\d+\))? unsigned/i;

export function numericTypmod(col: Column, dialect: string): NumericTypmod | null {
  if (dialect === 'mysql' && MYSQL_BIGINT.test(col.sourceType)) return { precision: 20, scale: 0 };
  const m = (dialect === 'mysql' ? MYSQL_DECIMAL : PG_NUMERIC).exec(col.sourceType);
  if (m === null) return null;
  const precision = Number(m[1]);
  const scale = Number(m[2] ?? 0);
  return scale <= precision ? { precision, scale } : null;
}
