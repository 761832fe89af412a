import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentError } from '../errors.js';
import { rowArray, rowList } from './chunk-rows.js';
import type { SnapshotRecord } from './snapshot-record.js';
import { WATERMARK_PREFIX, type Chunk } from './snapshot-source.js';
import { WindowRegistry } from './windows.js';

const record = (table: string): ((c: Chunk<string>, written: number) => SnapshotRecord) => (c, written) => ({
  table,
  state: 'running',
  lastKey: c.lastKey,
  rowsDone: written,
  rowsEstimate: 0,
  chunksDone: 1,
  startedAt: '',
  updatedAt: '',
});
const chunk = (...keys: number[]): Chunk<string> => ({ rows: rowList(keys.map((k) => ({ key: Uint8Array.of(k), after: Uint8Array.of(k, k) }))), lastKey: [String(keys.at(-1))], meta: 'rel' });

test('LW opens, changes in between drop rows, HW hands back the rest; done settles only once durable', async () => {
  const reg = new WindowRegistry<string>();
  const w = reg.open('public.t', record('public.t'));
  assert.ok(w.lowId.startsWith(`${WATERMARK_PREFIX}:`) && w.highId.startsWith(`${WATERMARK_PREFIX}:`) && w.lowId !== w.highId);
  assert.equal(reg.watching('public.t'), true);
  assert.equal(reg.watermark(w.lowId), null);
  reg.changed('public.t', Uint8Array.of(2));
  reg.changed('public.other', Uint8Array.of(3));
  w.window.setChunk(chunk(1, 2, 3));
  const em = reg.watermark(w.highId);
  assert.ok(em !== null);
  assert.deepEqual(rowArray(em.rows).map((r) => r.key[0]), [1, 3]);
  assert.deepEqual(em.record.lastKey, ['3'], 'the record advances past every row read, dropped ones included');
  assert.equal(reg.watching('public.t'), false, 'no longer watching once the window closed');
  let settled = false;
  void w.done.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'not done before the rows are durable');
  em.durable();
  assert.deepEqual(await w.done, { rowsRead: 3, rowsWritten: 2 });
});

test('unknown watermark ids (written before a restart) are ignored', () => {
  const reg = new WindowRegistry<string>();
  assert.equal(reg.watermark(`${WATERMARK_PREFIX}:old:high`), null);
});

test('a new capture session abandons open windows and emissions not yet durable', async () => {
  const reg = new WindowRegistry<string>();
  const a = reg.open('public.t', record('public.t'));
  const b = reg.open('public.u', record('public.u'));
  reg.watermark(b.lowId);
  b.window.setChunk(chunk(1));
  const em = reg.watermark(b.highId);
  assert.ok(em !== null);
  reg.sessionStarted();
  await assert.rejects(a.done, (e: unknown) => e instanceof AgentError && e.kind === 'source-unavailable');
  await assert.rejects(b.done, AgentError);
  em.durable(); // too late: ignored, the chunk is read again
  assert.equal(reg.size, 0);
});

test('a rejected emission fails the chunk so it is read again', async () => {
  const reg = new WindowRegistry<string>();
  const w = reg.open('public.t', record('public.t'));
  reg.watermark(w.lowId);
  w.window.setChunk(chunk(1));
  reg.watermark(w.highId)?.rejected('schema changed');
  await assert.rejects(w.done, /schema changed/);
});

test('after a failed window no window of that table opens until its chunk loop starts over', async () => {
  const reg = new WindowRegistry<string>();
  const w = reg.open('public.t', record('public.t'));
  reg.watermark(w.lowId);
  w.window.setChunk(chunk(1));
  reg.watermark(w.highId)?.rejected('a transaction was not yet visible');
  await assert.rejects(w.done, /not yet visible/);
  assert.throws(() => reg.open('public.t', record('public.t')), /not yet visible/);
  assert.doesNotThrow(() => reg.open('public.u', record('public.u')), 'other tables are not concerned');
  reg.restart('public.t');
  assert.doesNotThrow(() => reg.open('public.t', record('public.t')));
  // A new capture session fails every table's windows the same way.
  reg.sessionStarted();
  assert.throws(() => reg.open('public.u', record('public.u')), /capture session restarted/);
});

test('a high watermark whose low one was never seen fails the chunk', async () => {
  const reg = new WindowRegistry<string>();
  const w = reg.open('public.t', record('public.t'));
  w.window.setChunk(chunk(1));
  assert.equal(reg.watermark(w.highId), null);
  await assert.rejects(w.done, /while the window was written/);
});

test('when a chunk fails, the later chunk of the same table already in flight fails with it; other tables are untouched', async () => {
  const reg = new WindowRegistry<string>();
  const first = reg.open('public.t', record('public.t'));
  reg.watermark(first.lowId);
  first.window.setChunk(chunk(1));
  const second = reg.open('public.t', record('public.t'));
  const other = reg.open('public.u', record('public.u'));
  reg.watermark(second.lowId);
  second.window.setChunk(chunk(2));
  reg.watermark(first.highId)?.rejected('schema changed');
  await assert.rejects(first.done, /schema changed/);
  await assert.rejects(second.done, /schema changed/);
  assert.equal(reg.watermark(second.highId), null, 'its high watermark no longer emits anything');
  assert.equal(reg.watching('public.u'), true);
  reg.watermark(other.lowId);
  other.window.setChunk(chunk(3));
  reg.watermark(other.highId)?.durable();
  assert.deepEqual(await other.done, { rowsRead: 1, rowsWritten: 1 });
});

test('a later chunk that fails leaves the earlier one in flight alone', async () => {
  const reg = new WindowRegistry<string>();
  const first = reg.open('public.t', record('public.t'));
  reg.watermark(first.lowId);
  first.window.setChunk(chunk(1));
  const second = reg.open('public.t', record('public.t'));
  reg.abandon(second, new AgentError('source-unavailable', 'connection lost'));
  await assert.rejects(second.done, /connection lost/);
  reg.watermark(first.highId)?.durable();
  assert.deepEqual(await first.done, { rowsRead: 1, rowsWritten: 1 });
});
