import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_ROWS, PackedRows, rowArray, rowList, SelectedRows } from './chunk-rows.js';

const rows = [
  { key: Uint8Array.of(1), after: Uint8Array.of(1, 10, 11) },
  { key: Uint8Array.of(2, 2), after: Uint8Array.of() },
  { key: Uint8Array.of(), after: Uint8Array.of(3) },
];

function packed(): PackedRows {
  const bytes = new Uint8Array(rows.reduce((n, r) => n + r.key.length + r.after.length, 0));
  const ends = new Uint32Array(2 * rows.length);
  let at = 0;
  rows.forEach((r, i) => {
    bytes.set(r.key, at);
    at += r.key.length;
    ends[2 * i] = at;
    bytes.set(r.after, at);
    at += r.after.length;
    ends[2 * i + 1] = at;
  });
  return new PackedRows(bytes, ends);
}

test('packed rows give back every key and row image, empty ones included', () => {
  assert.deepEqual(rowArray(packed()), rows);
  assert.equal(packed().length, 3);
  assert.throws(() => new PackedRows(new Uint8Array(1), Uint32Array.of(1)), /two ends per row/);
});

test('selected rows are the base rows at the given indexes, in that order', () => {
  const s = new SelectedRows(packed(), Uint32Array.of(2, 0));
  assert.deepEqual(rowArray(s), [rows[2], rows[0]]);
  assert.equal(new SelectedRows(packed(), new Uint32Array(0)).length, 0);
});

test('row lists and the empty set', () => {
  assert.deepEqual(rowArray(rowList(rows)), rows);
  assert.equal(NO_ROWS.length, 0);
});
