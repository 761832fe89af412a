import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rowArray, rowList, type ChunkRows } from './chunk-rows.js';
import { ChunkWindow, keyId } from './chunk-window.js';
import type { Chunk, ChunkRow } from './snapshot-source.js';

const row = (k: number): ChunkRow => ({ key: Uint8Array.of(1, k), after: Uint8Array.of(2, k, k) });
const chunk = (...keys: number[]): Chunk<string> => ({ rows: rowList(keys.map(row)), lastKey: keys.length ? [String(keys.at(-1))] : null, meta: 'm' });
const keysOf = (r: { rows: ChunkRows } | { error: string }): number[] => {
  assert.ok('rows' in r, 'error' in r ? r.error : '');
  return rowArray(r.rows).map((x) => x.key[1] as number);
};

test('rows changed between the watermarks are dropped; the rest keep key order', () => {
  const w = new ChunkWindow<string>('public.t', 'lo', 'hi');
  w.open();
  w.change(Uint8Array.of(1, 2));
  w.setChunk(chunk(1, 2, 3, 4));
  w.change(Uint8Array.of(1, 4));
  w.change(Uint8Array.of(1, 9)); // outside the chunk: no effect
  assert.deepEqual(keysOf(w.close()), [1, 3]);
  assert.equal(w.state, 'closed');
});

test('changes before the low watermark or after the high one do not drop rows', () => {
  const w = new ChunkWindow<string>('public.t', 'lo', 'hi');
  w.change(Uint8Array.of(1, 1)); // before LW: the SELECT saw the change
  w.setChunk(chunk(1, 2));
  w.open();
  const r = w.close();
  w.change(Uint8Array.of(1, 2)); // after HW: a newer event follows the rows
  assert.deepEqual(keysOf(r), [1, 2]);
});

test('a truncate inside the window drops the whole chunk', () => {
  const w = new ChunkWindow<string>('public.t', 'lo', 'hi');
  w.open();
  w.setChunk(chunk(1, 2, 3));
  w.truncate();
  const r = w.close();
  assert.deepEqual(keysOf(r), []);
  assert.ok('chunk' in r && r.chunk.lastKey?.[0] === '3', 'the chunk still advances the snapshot');
});

test('a high watermark without its low one (another session) is an error, not an emission', () => {
  const w = new ChunkWindow<string>('public.t', 'lo', 'hi');
  w.setChunk(chunk(1));
  const r = w.close();
  assert.ok('error' in r);
});

test('a high watermark before the chunk is set is an error', () => {
  const w = new ChunkWindow<string>('public.t', 'lo', 'hi');
  w.open();
  assert.ok('error' in w.close());
});

test('key identity is by bytes, whatever the view offset', () => {
  const big = Uint8Array.of(9, 9, 1, 5, 9);
  assert.equal(keyId(big.subarray(2, 4)), keyId(Uint8Array.of(1, 5)));
  assert.notEqual(keyId(Uint8Array.of(1, 5)), keyId(Uint8Array.of(1, 5, 0)));
});
