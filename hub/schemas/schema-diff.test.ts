import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ColumnSchema, TableSchemaSchema, ValueKind } from '../../proto/gen/tributary/v1/change_pb.js';
import { diffSchemas, isWidening } from './schema-diff.js';
import { schemaEvents } from './schema-events.js';

const table = (version: number, cols: [string, string, boolean?][], dialect = '') =>
  create(TableSchemaSchema, {
    schema: 'public',
    table: 't',
    version,
    sincePosition: BigInt(version * 100),
    sourceDialect: dialect,
    columns: cols.map(([name, sourceType, key]) => create(ColumnSchema, { name, sourceType, kind: ValueKind.TEXT, key: key === true })),
  });

describe('schema diff', () => {
  it('lists added, dropped and changed columns, and classifies type changes', () => {
    const v1 = table(1, [['id', 'integer', true], ['qty', 'integer'], ['code', 'character varying(10)'], ['old', 'text']]);
    const v2 = table(2, [['id', 'bigint', true], ['qty', 'text'], ['code', 'text'], ['new', 'date']]);
    const d = diffSchemas(v1, v2);
    assert.deepEqual(d.added, [{ name: 'new', type: 'date', key: false }]);
    assert.deepEqual(d.dropped, [{ name: 'old', type: 'text', key: false }]);
    assert.deepEqual(d.typeChanged, [
      { column: 'id', from: 'integer', to: 'bigint', change: 'widened' },
      { column: 'qty', from: 'integer', to: 'text', change: 'incompatible' },
      { column: 'code', from: 'character varying(10)', to: 'text', change: 'widened' },
    ]);
    assert.equal(d.keyChanged, null);
  });

  it('hints a rename (same place, same type) and reports key changes', () => {
    const d = diffSchemas(table(1, [['id', 'integer', true], ['a', 'text']]), table(2, [['id', 'integer'], ['b', 'text', true]]));
    assert.deepEqual(d.renamed, [{ from: 'a', to: 'b' }]);
    assert.deepEqual(d.keyChanged, { from: ['id'], to: ['b'] });
  });

  it('reads MySQL types with display widths and signedness', () => {
    assert.ok(isWidening('int(11)', 'bigint(20)', 'mysql'));
    assert.ok(isWidening('varchar(10)', 'varchar(40)', 'mysql') && isWidening('varchar(10)', 'text', 'mysql'));
    assert.ok(!isWidening('int(11)', 'int(10) unsigned', 'mysql') && !isWidening('int(11)', 'varchar(10)', 'mysql'));
  });

  it('makes one schema.changed per version, plus incompatible and key-changed alerts', () => {
    const first = schemaEvents('a/s', 'ws', undefined, table(1, [['id', 'integer', true]]));
    assert.deepEqual(first.map((e) => [e.kind, e.severity, e.workspace, e.source, e.table]), [['schema.changed', 'info', 'ws', 'a/s', 'public.t']]);
    assert.equal(first[0]?.data['newTable'], true);
    const next = schemaEvents('a/s', 'ws', table(1, [['id', 'integer', true], ['q', 'integer']]), table(2, [['id', 'integer'], ['q', 'text', true]]));
    assert.deepEqual(next.map((e) => [e.kind, e.severity]), [['schema.changed', 'warning'], ['schema.incompatible', 'warning'], ['schema.key_changed', 'critical']]);
    assert.match(next[0]?.message ?? '', /version 2: q integer → text \(incompatible\); key \(id\) → \(q\)/);
    assert.deepEqual((next[2]?.data['resnapshot'] as { body: unknown }).body, { table: 'public.t' });
  });
});
