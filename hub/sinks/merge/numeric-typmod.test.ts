import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ColumnSchema, ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { numericTypmod } from './numeric-typmod.js';

const col = (sourceType: string) => create(ColumnSchema, { name: 'c', kind: ValueKind.DECIMAL, sourceType });

test('PostgreSQL numeric typmods', () => {
  assert.deepEqual(numericTypmod(col('numeric(10,2)'), 'postgres'), { precision: 10, scale: 2 });
  assert.deepEqual(numericTypmod(col('numeric(5)'), ''), { precision: 5, scale: 0 });
  assert.equal(numericTypmod(col('numeric'), 'postgres'), null);
  // A MySQL spelling means nothing to a PostgreSQL source.
  assert.equal(numericTypmod(col('bigint unsigned'), 'postgres'), null);
});

test('MySQL decimal typmods and BIGINT UNSIGNED as (20,0)', () => {
  assert.deepEqual(numericTypmod(col('decimal(65,30)'), 'mysql'), { precision: 65, scale: 30 });
  assert.deepEqual(numericTypmod(col('decimal(10,2) unsigned'), 'mysql'), { precision: 10, scale: 2 });
  assert.deepEqual(numericTypmod(col('bigint unsigned'), 'mysql'), { precision: 20, scale: 0 });
  assert.deepEqual(numericTypmod(col('bigint(20) unsigned zerofill'), 'mysql'), { precision: 20, scale: 0 });
  assert.equal(numericTypmod(col('bigint'), 'mysql'), null);
});
