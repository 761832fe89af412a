import { create } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ColumnSchema, TableSchemaSchema, ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';
import type { ChangeOp, SinkChange } from '../sink.js';
import { collapse } from './collapse.js';
import { splitRuns } from './runs.js';

const schema = create(TableSchemaSchema, {
  schema: 'public', table: 't', version: 1,
  columns: [create(ColumnSchema, { name: 'id', kind: ValueKind.INT32, key: true }), create(ColumnSchema, { name: 'v', kind: ValueKind.TEXT })],
});
const plan = { source: 'public.t', columns: schema.columns, keyIndexes: [0] };
let pos = 0n;
const ch = (op: ChangeOp, after: Value[] | null, key: Value[], before: Value[] | null = null): SinkChange => ({
  sourceKey: 's', op, schema, key, before, after, position: { commit: (pos += 1n), index: 0 }, commitTimeUs: 0n, txid: 1n,
});

describe('collapse', () => {
  it('keeps the latest change per key, in first-seen key order', () => {
    const out = collapse(plan, [ch('insert', [1n, 'a'], [1n]), ch('insert', [2n, 'b'], [2n]), ch('update', [1n, 'c'], [1n]), ch('delete', null, [2n])]);
    assert.deepEqual([...out.values()].map((e) => [e.kind, e.kind === 'upsert' ? e.row : e.key]), [['upsert', [1n, 'c']], ['delete', [2n]]]);
  });
  it('turns a key change into a delete of the old key and an upsert of the new one', () => {
    const out = collapse(plan, [ch('update', [5n, 'x'], [5n], [4n, null])]);
    assert.deepEqual([...out.values()].map((e) => [e.kind, e.kind === 'upsert' ? e.row : e.key]), [['delete', [4n]], ['upsert', [5n, 'x']]]);
  });
  it('fills UNCHANGED values from an earlier change of the row in the run, keeps the rest UNCHANGED', () => {
    const out = [...collapse(plan, [ch('insert', [1n, 'big'], [1n]), ch('update', [1n, UNCHANGED], [1n]), ch('update', [2n, UNCHANGED], [2n])]).values()];
    assert.deepEqual(out.map((e) => (e.kind === 'upsert' ? e.row : null)), [[1n, 'big'], [2n, UNCHANGED]]);
  });
  it('refuses changes it cannot apply by key', () => {
    assert.throws(() => collapse(plan, [ch('insert', [1n], [1n])]), RangeError);
    assert.throws(() => collapse(plan, [ch('delete', null, [])]), /carries no key/);
  });
});

describe('splitRuns', () => {
  it('cuts at truncates and schema versions, keeping order', () => {
    const v2 = { ...schema, version: 2 };
    const runs = splitRuns([ch('insert', [1n, 'a'], [1n]), ch('truncate', null, []), ch('insert', [1n, 'b'], [1n]), { ...ch('insert', [2n, 'c'], [2n]), schema: v2 }]);
    assert.deepEqual(runs.map((r) => r.length), [1, 1, 1, 1]);
  });
});
