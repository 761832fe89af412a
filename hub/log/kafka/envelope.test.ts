import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ColumnSchema, TableSchemaSchema, ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { TS_INFINITY, UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';
import type { SinkChange } from '../../sinks/sink.js';
import { envelopeKey, envelopeRecords, envelopeValue } from './envelope.js';
import { isoTimestamp, jsonValue } from './json-values.js';

const schema = create(TableSchemaSchema, {
  schema: 'public',
  table: 'orders',
  version: 3,
  columns: [
    create(ColumnSchema, { name: 'id', kind: ValueKind.INT64, sourceType: 'bigint', key: true }),
    create(ColumnSchema, { name: 'note', kind: ValueKind.TEXT, sourceType: 'text', nullable: true }),
  ],
});

function change(op: SinkChange['op'], over: Partial<SinkChange> = {}): SinkChange {
  return {
    sourceKey: 'agent-1/shop',
    op,
    schema,
    key: [9007199254740993n],
    before: null,
    after: [9007199254740993n, 'a "quoted" note'],
    position: { commit: 0x16b3748n, index: 2 },
    commitTimeUs: 1_700_000_000_123_456n,
    txid: 771n,
    ...over,
  };
}

const ctx = { name: 'tributary', db: 'shop', nowUs: 1_700_000_000_200_000n };

describe('Debezium envelope', () => {
  it('writes every field Debezium consumers read, int64 exact', () => {
    const v = JSON.parse(envelopeValue(change('insert'), ctx).replace('9007199254740993', '"BIG"').replace('9007199254740993', '"BIG"')) as Record<string, unknown>;
    assert.deepEqual(v['before'], null);
    assert.deepEqual(v['after'], { id: 'BIG', note: 'a "quoted" note' });
    assert.equal(v['op'], 'c');
    assert.equal(v['ts_ms'], 1_700_000_000_200);
    assert.equal(v['transaction'], null);
    assert.deepEqual(v['source'], {
      version: 'tributary-1', connector: 'postgresql', name: 'tributary', ts_ms: 1_700_000_000_123, ts_us: 1_700_000_000_123_456, snapshot: 'false',
      db: 'shop', sequence: '["23803720","2"]', schema: 'public', table: 'orders', txId: 771, lsn: 23803720, xmin: null,
    });
    assert.match(envelopeValue(change('insert'), ctx), /"after":\{"id":9007199254740993,/);
  });

  it('maps every op and fills before of a key-only delete from the key', () => {
    assert.equal(JSON.parse(envelopeValue(change('update', { before: [1n, 'old'] }), ctx)).op, 'u');
    assert.deepEqual(JSON.parse(envelopeValue(change('update', { before: [1n, 'old'] }), ctx)).before, { id: 1, note: 'old' });
    const d = JSON.parse(envelopeValue(change('delete', { key: [5n], after: null }), ctx));
    assert.equal(d.op, 'd');
    assert.deepEqual(d.before, { id: 5 });
    assert.equal(d.after, null);
    assert.equal(JSON.parse(envelopeValue(change('read'), ctx)).source.snapshot, 'true');
    assert.equal(JSON.parse(envelopeValue(change('read'), ctx)).op, 'r', 'a snapshot row is Debezium op "r"');
    const t = JSON.parse(envelopeValue(change('truncate', { key: [], after: null }), ctx));
    assert.equal(t.op, 't');
    assert.equal(t.after, null);
  });

  it('keys by primary key; a truncate has no key; tombstones follow deletes only when asked', () => {
    assert.equal(envelopeKey(change('insert')), '{"id":9007199254740993}');
    assert.equal(envelopeKey(change('truncate', { key: [] })), null);
    const del = change('delete', { key: [5n], after: null });
    assert.equal(envelopeRecords(del, ctx, false).length, 1);
    const withTomb = envelopeRecords(del, ctx, true);
    assert.equal(withTomb.length, 2);
    assert.deepEqual(withTomb[1], { key: '{"id":5}', value: null, schemaVersion: 3 });
    assert.equal(envelopeRecords(change('insert'), ctx, true).length, 1);
  });
});

describe('JSON values', () => {
  const cases: Array<[Value, string]> = [
    [null, 'null'],
    [UNCHANGED, '"__debezium_unavailable_value"'],
    [true, 'true'],
    [-9223372036854775808n, '-9223372036854775808'],
    [1.5, '1.5'],
    [Number.NaN, '"NaN"'],
    [-Infinity, '"-Infinity"'],
    ['x\u0000y', '"x\\u0000y"'],
    [new Uint8Array([0xde, 0xad, 0xbe, 0xef]), '"3q2+7w=="'],
    [{ kind: 'decimal', text: '12.30' }, '"12.30"'],
    [{ kind: 'uuid', text: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }, '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"'],
    [{ kind: 'date', days: 19723 }, '19723'],
    [{ kind: 'time', micros: 45_296_000_007 }, '45296000007'],
    [{ kind: 'timetz', micros: 3_600_000_000, offsetSeconds: 7200 }, '"23:00:00.000000Z"'],
    [{ kind: 'timestamp', micros: 1_700_000_000_123_456n }, '1700000000123456'],
    [{ kind: 'timestamptz', micros: 1_700_000_000_123_456n }, '"2023-11-14T22:13:20.123456Z"'],
    [{ kind: 'timestamptz', micros: TS_INFINITY }, '"infinity"'],
    [{ kind: 'interval', months: 14, days: 3, micros: 14_706_000_007 }, '"P1Y2M3DT4H5M6.000007S"'],
    [{ kind: 'json', text: '{"a": [1, 2]}' }, '"{\\"a\\": [1, 2]}"'],
    [{ kind: 'array', dims: [2, 2], lower: [1, 1], items: [1n, 2n, null, 4n] }, '[[1,2],[null,4]]'],
    [{ kind: 'array', dims: [], lower: [], items: [] }, '[]'],
  ];
  for (const [v, text] of cases) it(`${text}`, () => assert.equal(jsonValue(v), text));

  it('timestamps before 1970 and past year 9999 stay exact', () => {
    assert.equal(isoTimestamp(-1n), '1969-12-31T23:59:59.999999Z');
    assert.equal(isoTimestamp(253_402_300_800_000_000n), '+010000-01-01T00:00:00.000000Z');
    assert.equal(isoTimestamp(-62_135_596_800_000_000n - 86_400_000_000n), '0000-12-31T00:00:00.000000Z');
  });

  it('follows schema drift: each record carries its version in the header and the columns of that version', () => {
    const v4 = create(TableSchemaSchema, {
      ...schema,
      version: 4,
      columns: [
        create(ColumnSchema, { name: 'id', kind: ValueKind.INT64, sourceType: 'bigint', key: true }),
        create(ColumnSchema, { name: 'note', kind: ValueKind.INT32, sourceType: 'integer', nullable: true }),
        create(ColumnSchema, { name: 'added', kind: ValueKind.TEXT, sourceType: 'text', nullable: true }),
      ],
    });
    const [old] = envelopeRecords(change('insert'), ctx, false);
    const [next] = envelopeRecords(change('insert', { schema: v4, key: [1n], after: [1n, 7n, 'new'] }), ctx, false);
    assert.equal(old?.schemaVersion, 3);
    assert.equal(next?.schemaVersion, 4);
    assert.deepEqual(JSON.parse(next?.value ?? 'null').after, { id: 1, note: 7, added: 'new' });
  });
});
