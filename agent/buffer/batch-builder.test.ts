import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ChangeBatchSchema,
  ChangeEventSchema,
  ColumnSchema,
  Op,
  TableSchemaSchema,
  ValueKind,
  type TableSchema,
} from '../../proto/gen/tributary/v1/change_pb.js';
import { encodeRow } from '../../proto/tributary/v1/row-codec.js';
import { BatchBuilder, encodeEvent, EventTemplate, withSequence, type EventFields } from './batch-builder.js';

const UINT64_MAX = 2n ** 64n - 1n;

function fields(overrides: Partial<EventFields> = {}): EventFields {
  return {
    schema: 'public',
    table: 'orders',
    op: Op.INSERT,
    key: encodeRow([1n]),
    before: null,
    after: encodeRow([1n, 'widget', 9.5]),
    commitPosition: 0x16_b374_d848n,
    indexInTx: 3,
    commitTimeUs: 1_700_000_000_123_456,
    txid: 771,
    schemaVersion: 2,
    ...overrides,
  };
}

/** The same event through the generated codec. */
function generated(e: EventFields): Uint8Array {
  return toBinary(
    ChangeEventSchema,
    create(ChangeEventSchema, {
      schema: e.schema,
      table: e.table,
      op: e.op,
      key: e.key,
      before: e.before ?? new Uint8Array(0),
      after: e.after ?? new Uint8Array(0),
      commitPosition: e.commitPosition,
      indexInTx: e.indexInTx,
      commitTimeUs: BigInt(e.commitTimeUs),
      txid: BigInt(e.txid),
      schemaVersion: e.schemaVersion,
    }),
  );
}

function tableSchema(table: string, version: number, columns: readonly string[]): TableSchema {
  return create(TableSchemaSchema, {
    schema: 'public',
    table,
    version,
    sincePosition: 1234n,
    relationId: 16_384,
    columns: columns.map((name, i) =>
      create(ColumnSchema, { name, kind: i === 0 ? ValueKind.INT64 : ValueKind.TEXT, sourceType: i === 0 ? 'bigint' : 'text', key: i === 0, nullable: i !== 0 }),
    ),
  });
}

describe('encodeEvent', () => {
  const cases: Array<[string, EventFields]> = [
    ['a typical insert', fields()],
    ['an update with a before image', fields({ op: Op.UPDATE, before: encodeRow([1n, 'old', 1.0]) })],
    ['a delete (no after image)', fields({ op: Op.DELETE, after: null, before: encodeRow([1n]) })],
    ['a truncate: every default omitted', fields({ schema: '', table: '', op: Op.UNSPECIFIED, key: new Uint8Array(0), after: null, commitPosition: 0n, indexInTx: 0, commitTimeUs: 0, txid: 0, schemaVersion: 0 })],
    ['empty before/after images (omitted like null)', fields({ before: new Uint8Array(0), after: new Uint8Array(0) })],
    ['the largest uint64 position', fields({ commitPosition: UINT64_MAX })],
    ['a position above 2^63', fields({ commitPosition: 2n ** 63n + 5n })],
    ['a negative commit time', fields({ commitTimeUs: -1 })],
    ['a commit time long before 1970', fields({ commitTimeUs: -62_135_596_800_000_000 })],
    ['a large txid and index', fields({ txid: Number.MAX_SAFE_INTEGER, indexInTx: 0xffff_ffff, schemaVersion: 0xffff_ffff })],
    ['non-ASCII names', fields({ schema: 'ventes', table: 'commandes_été_😀', op: Op.READ })],
    ['a large row image', fields({ after: encodeRow(['x'.repeat(100_000)]) })],
  ];

  for (const [name, e] of cases) {
    it(`matches the generated encoder: ${name}`, () => {
      assert.deepEqual(encodeEvent(e), generated(e));
    });
  }

  it('decodes with the generated decoder to the same fields', () => {
    const e = fields({ commitPosition: UINT64_MAX, commitTimeUs: -5, op: Op.UPDATE, before: encodeRow([null]) });
    const m = fromBinary(ChangeEventSchema, encodeEvent(e));
    assert.equal(m.schema, 'public');
    assert.equal(m.table, 'orders');
    assert.equal(m.op, Op.UPDATE);
    assert.deepEqual(m.key, e.key);
    assert.deepEqual(m.before, e.before);
    assert.deepEqual(m.after, e.after);
    assert.equal(m.commitPosition, UINT64_MAX);
    assert.equal(m.indexInTx, 3);
    assert.equal(m.commitTimeUs, -5n);
    assert.equal(m.txid, 771n);
    assert.equal(m.schemaVersion, 2);
  });

  it('encodes an all-default event as zero bytes', () => {
    const e = fields({ schema: '', table: '', op: Op.UNSPECIFIED, key: new Uint8Array(0), after: null, commitPosition: 0n, indexInTx: 0, commitTimeUs: 0, txid: 0, schemaVersion: 0 });
    assert.equal(encodeEvent(e).length, 0);
  });
});

describe('EventTemplate', () => {
  it('appendFrom writes exactly the bytes of append with every field', () => {
    const cases: EventFields[] = [
      fields({ op: Op.READ, before: null, indexInTx: 0 }),
      fields({ op: Op.READ, before: null, indexInTx: 300, commitPosition: UINT64_MAX, commitTimeUs: -5, txid: 0 }),
      fields({ op: Op.UPDATE, indexInTx: 7, schemaVersion: 0, key: new Uint8Array(0), before: encodeRow([1n, 'old', 1.5]) }),
      fields({ schema: '', table: 'x', op: Op.UNSPECIFIED, commitPosition: 0n, commitTimeUs: 0, txid: 0, schemaVersion: 0, after: null }),
    ];
    for (const [i, e] of cases.entries()) {
      const viaTemplate = new BatchBuilder();
      viaTemplate.appendFrom(new EventTemplate(e), e.key, e.before, e.after, e.indexInTx);
      const direct = new BatchBuilder();
      direct.append(e);
      assert.equal(viaTemplate.eventCount, 1);
      assert.deepEqual(viaTemplate.build(1n, true), direct.build(1n, true), `case ${i}`);
    }
  });
});

describe('BatchBuilder', () => {
  it('builds a batch that the generated codec decodes, with the sequence prefixed', () => {
    const b = new BatchBuilder();
    const orders = tableSchema('orders', 1, ['id', 'name']);
    const items = tableSchema('items', 4, ['id', 'sku', 'qty']);
    b.addSchema(orders);
    b.addSchema(items);
    const events = [fields(), fields({ table: 'items', indexInTx: 4, op: Op.DELETE, after: null }), fields({ indexInTx: 5, commitPosition: UINT64_MAX })];
    for (const e of events) b.addEvent(encodeEvent(e));
    assert.equal(b.eventCount, 3);
    assert.ok(b.byteLength > 0);

    const body = b.build(0xffff_0000_0000_0001n, true);
    const batch = fromBinary(ChangeBatchSchema, withSequence(body, 42));
    assert.equal(batch.sequence, 42n);
    assert.equal(batch.sourcePosition, 0xffff_0000_0000_0001n);
    assert.equal(batch.commitBoundary, true);
    assert.equal(batch.schemas.length, 2);
    assert.deepEqual(toBinary(TableSchemaSchema, batch.schemas[0] as TableSchema), toBinary(TableSchemaSchema, orders));
    assert.deepEqual(toBinary(TableSchemaSchema, batch.schemas[1] as TableSchema), toBinary(TableSchemaSchema, items));
    assert.equal(batch.schemas[1]?.columns[2]?.name, 'qty');
    assert.equal(batch.events.length, 3);
    batch.events.forEach((ev, i) => assert.deepEqual(toBinary(ChangeEventSchema, ev), generated(events[i] as EventFields), `event ${i}`));
  });

  it('omits a zero position and a false commit boundary', () => {
    const b = new BatchBuilder();
    b.addEvent(encodeEvent(fields()));
    const batch = fromBinary(ChangeBatchSchema, withSequence(b.build(0n, false), 1));
    assert.equal(batch.sourcePosition, 0n);
    assert.equal(batch.commitBoundary, false);
    assert.equal(batch.events.length, 1);
    // an empty builder builds an empty body: only the sequence remains
    const empty = new BatchBuilder().build(0n, false);
    assert.equal(empty.length, 0);
    assert.deepEqual(withSequence(empty, 1), Uint8Array.of(0x08, 0x01));
  });

  it('produces exactly the bytes of the generated ChangeBatch encoder', () => {
    const b = new BatchBuilder();
    const s = tableSchema('orders', 7, ['id']);
    const events = [fields(), fields({ indexInTx: 9 })];
    b.addSchema(s);
    for (const e of events) b.addEvent(encodeEvent(e));
    const ours = withSequence(b.build(99n, true, 1_700_000_000_123_456), 300);
    const theirs = toBinary(
      ChangeBatchSchema,
      create(ChangeBatchSchema, {
        sequence: 300n,
        schemas: [s],
        events: events.map((e) => fromBinary(ChangeEventSchema, generated(e))),
        sourcePosition: 99n,
        commitBoundary: true,
        sourceTimeUs: 1_700_000_000_123_456n,
      }),
    );
    assert.deepEqual(ours, theirs);
  });

  it('prefixes the sequence in place once, and by a copy for any other body, with the same bytes', () => {
    for (const schemas of [0, 1]) {
      const b = new BatchBuilder();
      if (schemas > 0) b.addSchema(tableSchema('orders', 7, ['id']));
      b.addEvent(encodeEvent(fields()));
      const body = b.build(99n, true);
      const copy = Uint8Array.from(body);
      const first = withSequence(body, 300);
      assert.equal(first.buffer, body.buffer, 'the room in front of the body is used');
      const again = withSequence(body, 1_000_000_000_000);
      assert.notEqual(again.buffer, body.buffer, 'a second prefix copies: the first stays as it was');
      assert.deepEqual(withSequence(copy, 300), first);
      assert.deepEqual(withSequence(copy, 1_000_000_000_000), again);
      assert.equal(fromBinary(ChangeBatchSchema, first).sequence, 300n);
      // the builder goes on in a buffer of its own
      b.addEvent(encodeEvent(fields({ indexInTx: 1 })));
      assert.deepEqual(withSequence(copy, 300), first, 'the built body is not touched by later events');
    }
  });

  it('reaches its limit at the events or the bytes, whichever comes first', () => {
    const b = new BatchBuilder();
    const limit = { events: 3, bytes: 10_000 };
    assert.equal(b.reached(limit), false);
    b.append(fields());
    b.append(fields());
    assert.equal(b.reached(limit), false);
    b.append(fields());
    assert.equal(b.reached(limit), true, 'three events');
    b.build(1n, true);
    assert.equal(b.reached(limit), false, 'a built batch starts over');
    b.append(fields({ after: new Uint8Array(9_000) }));
    assert.equal(b.reached(limit), false);
    b.append(fields({ after: new Uint8Array(1_000) }));
    assert.equal(b.reached(limit), true, 'over 10,000 bytes in two events');
    assert.ok(b.byteLength >= 10_000);
  });

  it('carries a heartbeat alone: no events, a position, a commit boundary and the source time', () => {
    const batch = fromBinary(ChangeBatchSchema, withSequence(new BatchBuilder().build(0x16b3748n, true, 1_764_000_000_000_001), 5));
    assert.equal(batch.events.length, 0);
    assert.equal(batch.sourcePosition, 0x16b3748n);
    assert.equal(batch.commitBoundary, true);
    assert.equal(batch.sourceTimeUs, 1_764_000_000_000_001n);
  });

  it('resets after build', () => {
    const b = new BatchBuilder();
    b.addSchema(tableSchema('orders', 1, ['id']));
    b.addEvent(encodeEvent(fields()));
    b.build(10n, true);
    assert.equal(b.eventCount, 0);
    assert.equal(b.byteLength, 0);
    const batch = fromBinary(ChangeBatchSchema, withSequence(b.build(11n, false), 2));
    assert.equal(batch.events.length, 0);
    assert.equal(batch.schemas.length, 0);
    assert.equal(batch.sourcePosition, 11n);
  });

  it('counts bytes for size limits: events by encoded size, schemas by column count', () => {
    const b = new BatchBuilder();
    const e = encodeEvent(fields({ after: encodeRow(['y'.repeat(1000)]) }));
    b.addEvent(e);
    assert.ok(b.byteLength >= e.length);
    const before = b.byteLength;
    b.addSchema(tableSchema('wide', 1, Array.from({ length: 50 }, (_, i) => `c${i}`)));
    assert.ok(b.byteLength > before + 50);
  });

  it('absorb moves schemas and events after its own, and empties the other builder', () => {
    const a = new BatchBuilder();
    const other = new BatchBuilder();
    a.addSchema(tableSchema('a', 1, ['id']));
    a.addEvent(encodeEvent(fields({ table: 'a', indexInTx: 0 })));
    other.addSchema(tableSchema('b', 2, ['id', 'v']));
    other.addEvent(encodeEvent(fields({ table: 'b', indexInTx: 1 })));
    other.addEvent(encodeEvent(fields({ table: 'b', indexInTx: 2 })));
    const expectedBytes = a.byteLength + other.byteLength;

    a.absorb(other);
    assert.equal(a.eventCount, 3);
    assert.equal(a.byteLength, expectedBytes);
    assert.equal(other.eventCount, 0);
    assert.equal(other.byteLength, 0);

    const batch = fromBinary(ChangeBatchSchema, withSequence(a.build(5n, true), 3));
    assert.deepEqual(
      batch.schemas.map((s) => `${s.table}@${s.version}`),
      ['a@1', 'b@2'],
    );
    assert.deepEqual(
      batch.events.map((e) => `${e.table}#${e.indexInTx}`),
      ['a#0', 'b#1', 'b#2'],
    );
    // the emptied builder builds nothing, and stays usable
    assert.equal(other.build(0n, false).length, 0);
    other.addEvent(encodeEvent(fields()));
    assert.equal(other.eventCount, 1);
  });
});

describe('withSequence', () => {
  it('prefixes field 1 for small and large sequences', () => {
    for (const seq of [1, 127, 128, 300, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const body = new BatchBuilder().build(77n, true);
      const batch = fromBinary(ChangeBatchSchema, withSequence(body, seq));
      assert.equal(batch.sequence, BigInt(seq), `sequence ${seq}`);
      assert.equal(batch.sourcePosition, 77n);
      assert.equal(batch.commitBoundary, true);
    }
  });

  it('leaves the body bytes untouched after the prefix', () => {
    const b = new BatchBuilder();
    b.addEvent(encodeEvent(fields()));
    const body = b.build(1n, true);
    const copy = body.slice();
    const out = withSequence(body, 1000);
    assert.deepEqual(out.subarray(out.length - body.length), copy);
    assert.deepEqual(body, copy);
  });
});
