import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DATE_INFINITY, DATE_MINUS_INFINITY, decodeRow, RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { BinaryCopyOut, BinaryKind, binaryPlan, writeBinaryValue } from './copy-binary.js';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** A binary COPY stream: header, rows of fields (null = NULL), trailer. */
function stream(rows: Array<Array<Buffer | null>>): Buffer {
  const parts: Buffer[] = [SIGNATURE, Buffer.alloc(4), Buffer.alloc(4)];
  for (const r of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(r.length);
    parts.push(count);
    for (const f of r) {
      const len = Buffer.alloc(4);
      len.writeInt32BE(f === null ? -1 : f.length);
      parts.push(len);
      if (f !== null) parts.push(f);
    }
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

/** Runs a BinaryCopyOut over `data` cut into messages of `size` bytes; the rows as field strings. */
async function read(data: Buffer, fields: number, size: number): Promise<Array<Array<string | null>>> {
  const out: Array<Array<string | null>> = [];
  const copy = new BinaryCopyOut('COPY', fields, (d, spans) => {
    const row: Array<string | null> = [];
    for (let i = 0; i < fields; i++) row.push((spans[2 * i] as number) < 0 ? null : d.subarray(spans[2 * i], spans[2 * i + 1]).toString());
    out.push(row);
  });
  for (let at = 0; at < data.length; at += size) copy.handleCopyData({ chunk: Buffer.from(data.subarray(at, at + size)) });
  copy.handleReadyForQuery();
  assert.equal(await copy.done, out.length);
  return out;
}

test('binary COPY rows come out whole whatever the message boundaries, NULLs and empty values included', async () => {
  const rows = [
    [Buffer.from('a'), null, Buffer.from('')],
    [Buffer.from('long value '.repeat(50)), Buffer.from('x'), null],
  ];
  const data = stream(rows);
  const expected = rows.map((r) => r.map((f) => (f === null ? null : f.toString())));
  for (const size of [1, 2, 3, 7, 19, 20, 64, data.length]) assert.deepEqual(await read(data, 3, size), expected, `messages of ${size} bytes`);
});

test('a wrong field count, a missing signature and output that ends inside a row are errors', async () => {
  await assert.rejects(read(stream([[Buffer.from('a')]]), 2, 100), /has 1 fields, expected 2/);
  await assert.rejects(read(Buffer.concat([Buffer.from('NOTCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]), 1, 100), /no PGCOPY signature/);
  const full = stream([[Buffer.from('abc')]]);
  await assert.rejects(read(full.subarray(0, full.length - 4), 1, 100), /ended inside a row/);
  await assert.rejects(read(full.subarray(0, full.length - 2), 1, 100), /ended inside a row/, 'no trailer');
});

function value(kind: BinaryKind, bytes: Buffer): unknown {
  const w = new RowWriter();
  w.columns(1);
  writeBinaryValue(kind, bytes, 0, bytes.length, w);
  return decodeRow(w.finish())[0];
}

const be64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
};
const be32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};

test('binary values become the row-codec values their text forms convert to', () => {
  assert.equal(BigInt(value(BinaryKind.Int2, Buffer.from([0x80, 0x00])) as bigint), -32768n);
  assert.equal(BigInt(value(BinaryKind.Int4, be32(-2147483648)) as bigint), -2147483648n);
  for (const v of [0n, 1n, -1n, 2n ** 52n, -(2n ** 52n), 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)]) {
    const got = value(BinaryKind.Int8, be64(v));
    assert.equal(BigInt(got as number | bigint), v, `int8 ${v}`);
  }
  const f = Buffer.alloc(8);
  f.writeDoubleBE(-0);
  assert.ok(Object.is(value(BinaryKind.Float8, f), -0));
  f.writeDoubleBE(5e-324);
  assert.equal(value(BinaryKind.Float8, f), 5e-324);
  assert.equal(value(BinaryKind.Bool, Buffer.from([1])), true);
  assert.deepEqual(value(BinaryKind.Date, be32(0)), { kind: 'date', days: 10957 });
  assert.deepEqual(value(BinaryKind.Date, be32(2147483647)), { kind: 'date', days: DATE_INFINITY });
  assert.deepEqual(value(BinaryKind.Date, be32(-2147483648)), { kind: 'date', days: DATE_MINUS_INFINITY });
  assert.deepEqual(value(BinaryKind.TimestampTz, be64(0n)), { kind: 'timestamptz', micros: 946_684_800_000_000 });
  assert.deepEqual(value(BinaryKind.Timestamp, be64(2n ** 63n - 1n)), { kind: 'timestamp', micros: Infinity });
  assert.deepEqual(value(BinaryKind.Timestamp, be64(-(2n ** 63n))), { kind: 'timestamp', micros: -Infinity });
  assert.deepEqual(value(BinaryKind.Time, be64(86_400_000_000n)), { kind: 'time', micros: 86_400_000_000 });
  assert.deepEqual(value(BinaryKind.Jsonb, Buffer.concat([Buffer.from([1]), Buffer.from('{"a": 1}')])), value(BinaryKind.Json, Buffer.from('{"a": 1}')));
  assert.throws(() => value(BinaryKind.Jsonb, Buffer.from([2, 0x7b, 0x7d])), /jsonb binary version 2/);
  assert.throws(() => value(BinaryKind.Int4, Buffer.from([1, 2])), /2 bytes/);
});

test('a table is read in binary unless a column has a type with its own cast to text', () => {
  assert.deepEqual([...(binaryPlan([20, 1700, 25], new Set([16, 869])) ?? [])], [BinaryKind.Int8, BinaryKind.Text, BinaryKind.Utf8]);
  assert.deepEqual([...(binaryPlan([16], new Set([16])) ?? [])], [BinaryKind.Bool], 'boolean is read in binary: its cast does not matter');
  assert.equal(binaryPlan([20, 869], new Set([869])), null, 'inet has its own cast: the table is read as text');
});
