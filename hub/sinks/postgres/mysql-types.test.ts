import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ColumnSchema, TableSchemaSchema, ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { planTable } from './ddl.js';

describe('PostgreSQL types for MySQL columns', () => {
  it('maps by value kind and MySQL type, never passing MySQL type names into DDL', () => {
    const col = (name: string, kind: ValueKind, sourceType: string, key = false) => create(ColumnSchema, { name, kind, sourceType, key });
    const plan = planTable(
      'dw',
      create(TableSchemaSchema, {
        schema: 'shop',
        table: 't',
        sourceDialect: 'mysql',
        columns: [
          col('id', ValueKind.DECIMAL, 'bigint unsigned', true),
          col('d', ValueKind.DECIMAL, 'decimal(65,30)'),
          col('dt', ValueKind.TIMESTAMP, 'datetime(6)'),
          col('ts', ValueKind.TIMESTAMPTZ, 'timestamp'),
          col('tm', ValueKind.INTERVAL, 'time(3)'),
          col('e', ValueKind.ENUM, "enum('a','b')"),
          col('f', ValueKind.FLOAT32, 'float'),
          col('y', ValueKind.INT16, 'year'),
        ],
      }),
    );
    assert.deepEqual(
      plan.columns.map((c) => c.type),
      ['numeric(20,0)', 'numeric(65,30)', 'timestamp(6) without time zone', 'timestamp(0) with time zone', 'interval', 'text', 'real', 'smallint'],
    );
    assert.equal(plan.name, 'shop_t');
  });
});
