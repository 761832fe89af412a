/**
 * A column added at the source with a constant default: rows stored before
 * it existed read as that default there, but the log never says so (no row
 * changed). The schema version carries the value (Column.missing_value), and
 * each sink, when it adds the column, sets it in every row written before
 * the version took effect: (position) < (since_position, since_index). The
 * update is idempotent and touches no row written with the new version.
 */
import type { Column, TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { decodeRow, type Value } from '../../../proto/tributary/v1/row-codec.js';
import type { Evolution } from './evolve.js';

export interface Fill {
  /** Destination column name (unquoted). */
  readonly target: string;
  readonly column: Column;
  readonly value: Value;
  /** Rows older than this position get the value. */
  readonly before: { readonly commit: bigint; readonly index: number };
}

export function fillsOf(schema: TableSchema, evolution: Evolution, older: boolean): Fill[] {
  if (older) return [];
  const added = new Set(evolution.changes.flatMap((c) => (c.kind === 'add' ? [c.name] : [])));
  return schema.columns.flatMap((column, i) => {
    const target = evolution.targets[i];
    if (target === null || target === undefined || !added.has(target.name) || column.missingValue.length === 0) return [];
    const value = decodeRow(column.missingValue)[0];
    if (value === undefined || value === null) return [];
    return [{ target: target.name, column, value, before: { commit: schema.sincePosition, index: schema.sinceIndex } }];
  });
}

/** The value as text for a typed bind (`?::TYPE`), for the kinds every warehouse parses the same way; undefined for others (not filled). */
export function fillText(v: Value): string | undefined {
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? String(v) : undefined;
    case 'boolean':
      return v ? 'TRUE' : 'FALSE';
    case 'string':
      return v;
  }
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && 'kind' in v && (v.kind === 'decimal' || v.kind === 'uuid')) return v.text;
  return undefined;
}
