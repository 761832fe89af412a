/** Builders for SinkChanges and table schemas, shared by the sink tests. */
import { create } from '@bufbuild/protobuf';
import { ColumnSchema, TableSchemaSchema, ValueKind, type Column, type TableSchema } from '../../proto/gen/tributary/v1/change_pb.js';
import type { Value } from '../../proto/tributary/v1/row-codec.js';
import type { ChangeOp, SinkBatch, SinkChange } from '../../hub/sinks/sink.js';

export function col(name: string, kind: ValueKind, sourceType: string, extra: Partial<Pick<Column, 'key' | 'elementKind' | 'arrayDims'>> = {}): Column {
  return create(ColumnSchema, { name, kind, sourceType, nullable: !extra.key, ...extra });
}
export const keyCol = (name = 'id') => col(name, ValueKind.INT32, 'integer', { key: true });
export const arrCol = (name: string, element: ValueKind, type: string, dims = 1) => col(name, ValueKind.ARRAY, type, { elementKind: element, arrayDims: dims });

export function table(t: string, columns: Column[], opts: { schema?: string; version?: number } = {}): TableSchema {
  return create(TableSchemaSchema, { schema: opts.schema ?? 'public', table: t, version: opts.version ?? 1, columns });
}

let autoPos = 1000n;
/** A change; `key` defaults to the key columns of after (or before). Positions increase unless given. */
export function ch(op: ChangeOp, schema: TableSchema, img: { after?: Value[]; before?: Value[]; key?: Value[]; commit?: bigint; index?: number }): SinkChange {
  const row = img.after ?? img.before ?? [];
  const key = img.key ?? schema.columns.flatMap((c, i) => (c.key ? [row[i] ?? null] : []));
  return {
    sourceKey: 'agent/pg',
    op,
    schema,
    key: op === 'truncate' ? [] : key,
    before: img.before ?? null,
    after: img.after ?? null,
    position: { commit: img.commit ?? (autoPos += 10n), index: img.index ?? 0 },
    commitTimeUs: 1_700_000_000_000_000n,
    txid: 7n,
  };
}

export const items = (dims: number[], values: Value[], lower = dims.map(() => 1)): Value => ({ kind: 'array', dims, lower, items: values });

export const people = table('people', [keyCol(), col('name', ValueKind.TEXT, 'text'), col('age', ValueKind.INT32, 'integer')]);

/** A deterministic history over `people`: inserts, updates, deletes, a key change and a truncate, in batches. */
export function history(): SinkBatch[] {
  const batches: SinkBatch[] = [];
  let offset = 0n;
  const push = (changes: SinkChange[]) => batches.push({ changes, lastOffset: (offset += 5n) });
  push([ch('insert', people, { after: [1n, 'ann', 30n] }), ch('insert', people, { after: [2n, 'bob', 40n] }), ch('insert', people, { after: [3n, 'cid', 50n] })]);
  push([ch('update', people, { after: [2n, 'bob', 41n] }), ch('delete', people, { key: [3n], before: [3n, null, null] }), ch('insert', people, { after: [3n, 'cy', 51n] })]);
  push([ch('update', people, { before: [1n, null, null], after: [10n, 'ann', 31n], key: [10n] }), ch('insert', people, { after: [4n, 'dee', 20n] }), ch('update', people, { after: [4n, 'dee', 21n] })]);
  push([ch('truncate', people, {}), ch('insert', people, { after: [5n, 'eve', 60n] })]);
  push([ch('insert', people, { after: [6n, 'fay', 70n] }), ch('delete', people, { key: [5n] }), ch('update', people, { after: [6n, 'fay', 71n] })]);
  return batches;
}
