import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChangeBuffer } from '../buffer/change-buffer.js';
import { createLogger } from '../log.js';
import { rowArray, rowList } from './chunk-rows.js';
import { SnapshotEngine } from './engine.js';
import type { SnapshotProgress, SnapshotRecord } from './snapshot-record.js';
import type { Chunk, ChunkKey, KeyedTable, SnapshotSource, TableInfo } from './snapshot-source.js';

const log = createLogger('error');

/** An in-memory table and log: watermarks are seen by the "capture" as soon as they are written. */
class FakeSource implements SnapshotSource<null> {
  engine!: SnapshotEngine<null>;
  buffer!: ChangeBuffer;
  readonly emitted: number[] = [];
  readonly tables = new Map<string, number[]>();
  onChunk: (() => void) | null = null;

  describe(table: string): Promise<TableInfo> {
    const rows = this.tables.get(table);
    if (rows === undefined) return Promise.resolve({ kind: 'noKey', table, reason: 'no key' });
    return Promise.resolve({ kind: 'keyed', table, keyColumns: ['id'], rowsEstimate: rows.length });
  }

  readChunk(table: KeyedTable, after: ChunkKey | null, limit: number): Promise<Chunk<null>> {
    this.onChunk?.();
    const from = after === null ? -Infinity : Number(after[0]);
    const ids = (this.tables.get(table.table) ?? []).filter((k) => k > from).slice(0, limit);
    return Promise.resolve({ rows: rowList(ids.map((k) => ({ key: Uint8Array.of(k), after: Uint8Array.of(k) }))), lastKey: ids.length ? [String(ids.at(-1))] : null, meta: null });
  }

  writeWatermark(id: string): Promise<void> {
    const em = this.engine.hooks.watermark(id);
    if (em !== null) {
      for (const r of rowArray(em.rows)) this.emitted.push(r.key[0] as number);
      this.stored(em.record);
      // As the capture does: the record goes to the spool with the rows, then durable().
      void this.buffer.putSnapshotRecord(em.record).then(() => em.durable());
    }
    return Promise.resolve();
  }

  /** A record about to be stored with its chunk's rows (those rows already in `emitted`). */
  protected stored(_record: SnapshotRecord): void {}
}

function fakeBuffer(stored: SnapshotRecord[] = []): ChangeBuffer & { records: Map<string, SnapshotRecord> } {
  const records = new Map(stored.map((r) => [r.table, r]));
  return {
    records,
    state: () => ({ firstSequence: 1, committedSequence: 0, committedPosition: 0n, ackedSequence: 0, bytes: 0, maxBytes: 1 << 20 }),
    snapshotRecords: () => [...records.values()],
    putSnapshotRecord: (r: SnapshotRecord) => {
      records.set(r.table, r);
      return Promise.resolve();
    },
  } as unknown as ChangeBuffer & { records: Map<string, SnapshotRecord> };
}

function engine(source: FakeSource, buffer: ChangeBuffer, settings = { initial: true, chunkRows: 3, maxRowsPerSecond: 0 }, progress: SnapshotProgress[] = []): SnapshotEngine<null> {
  const e = new SnapshotEngine<null>({ source, buffer, log, settings, onProgress: (p) => progress.push(p) });
  source.engine = e;
  source.buffer = buffer;
  lastList = () => [e.list(), [...(buffer as unknown as { records: Map<string, unknown> }).records.values()]];
  return e;
}

/** Snapshots `public.t` holding `rows` with a fresh engine until it is done. */
async function snapshotToEnd(src: FakeSource, rows: number[]): Promise<void> {
  src.tables.set('public.t', rows);
  const e = engine(src, fakeBuffer());
  const stop = new AbortController();
  const running = e.run(stop.signal);
  e.include(['public.t']);
  await until(() => e.list()[0]?.state === 'done');
  stop.abort();
  await running;
}

let lastList: (() => unknown) | null = null;
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(cond(), `condition not reached: ${JSON.stringify(lastList?.())}`);
}

test('an included table is snapshotted chunk by chunk to the end; progress is reported', async () => {
  const src = new FakeSource();
  src.tables.set('public.t', [1, 2, 3, 4, 5, 6, 7]);
  const buf = fakeBuffer();
  const progress: SnapshotProgress[] = [];
  const e = engine(src, buf, undefined, progress);
  const stop = new AbortController();
  const running = e.run(stop.signal);
  e.include(['public.t']);
  await until(() => buf.records.get('public.t')?.state === 'done' || e.list()[0]?.state === 'done');
  stop.abort();
  await running;
  assert.deepEqual(src.emitted, [1, 2, 3, 4, 5, 6, 7]);
  const done = e.list()[0];
  assert.equal(done?.state, 'done');
  assert.equal(done?.rowsDone, 7);
  assert.equal(done?.chunksDone, 3);
  assert.ok(progress.some((p) => p.state === 'running') && progress.at(-1)?.state === 'done');
});

test('a restart resumes after the stored last key; done tables are not snapshotted again', async () => {
  const src = new FakeSource();
  src.tables.set('public.t', [1, 2, 3, 4, 5]);
  src.tables.set('public.d', [1]);
  const at = new Date().toISOString();
  const buf = fakeBuffer([
    { table: 'public.t', state: 'running', lastKey: ['3'], rowsDone: 3, rowsEstimate: 5, chunksDone: 1, startedAt: at, updatedAt: at },
    { table: 'public.d', state: 'done', lastKey: ['1'], rowsDone: 1, rowsEstimate: 1, chunksDone: 1, startedAt: at, updatedAt: at },
  ]);
  const e = engine(src, buf);
  const stop = new AbortController();
  const running = e.run(stop.signal);
  e.include(['public.t', 'public.d']);
  await until(() => e.list().find((p) => p.table === 'public.t')?.state === 'done');
  stop.abort();
  await running;
  assert.deepEqual(src.emitted, [4, 5]);
  assert.equal(e.list().find((p) => p.table === 'public.t')?.rowsDone, 5);
});

test('pause stops between chunks and resume continues from the last key; cancel ends it', async () => {
  const src = new FakeSource();
  src.tables.set('public.t', Array.from({ length: 30 }, (_, i) => i + 1));
  const buf = fakeBuffer();
  const e = engine(src, buf, { initial: false, chunkRows: 3, maxRowsPerSecond: 0 });
  const stop = new AbortController();
  const running = e.run(stop.signal);
  let chunks = 0;
  src.onChunk = () => {
    if (++chunks === 2) void e.pause('public.t');
  };
  await e.start('public.t');
  await until(() => buf.records.get('public.t')?.state === 'paused');
  assert.deepEqual(src.emitted, [1, 2, 3, 4, 5, 6], 'the chunk in flight completes, then it pauses');
  src.onChunk = null;
  await e.resume('public.t');
  await until(() => buf.records.get('public.t')?.state === 'done');
  assert.deepEqual(src.emitted, Array.from({ length: 30 }, (_, i) => i + 1));
  await assert.rejects(e.pause('public.t'), /no running snapshot/);
  await e.start('public.t'); // a re-backfill from the first key
  src.onChunk = () => void e.cancel('public.t');
  await until(() => buf.records.get('public.t')?.state === 'cancelled');
  stop.abort();
  await running;
});

test('a table without a key fails with the reason; nothing is read', async () => {
  const src = new FakeSource();
  const buf = fakeBuffer();
  const e = engine(src, buf);
  const stop = new AbortController();
  const running = e.run(stop.signal);
  e.include(['public.nokey']);
  await until(() => buf.records.get('public.nokey')?.state === 'failed');
  stop.abort();
  await running;
  assert.equal(buf.records.get('public.nokey')?.error, 'no key');
  assert.deepEqual(src.emitted, []);
});

test('the rows-per-second ceiling paces chunks', async () => {
  const src = new FakeSource();
  src.tables.set('public.t', Array.from({ length: 40 }, (_, i) => i + 1));
  const buf = fakeBuffer();
  const e = engine(src, buf, { initial: true, chunkRows: 10, maxRowsPerSecond: 100 });
  const stop = new AbortController();
  const running = e.run(stop.signal);
  const t0 = Date.now();
  e.include(['public.t']);
  await until(() => buf.records.get('public.t')?.state === 'done');
  stop.abort();
  await running;
  // 40 rows at 100 rows/s: the fourth chunk starts no earlier than 300 ms in.
  assert.ok(Date.now() - t0 >= 290, `took ${Date.now() - t0} ms`);
});

test('no chunk is read while the hub has not acknowledged the spool (an outage, or a hub slower than the snapshot)', async () => {
  const src = new FakeSource();
  src.tables.set('public.t', [1, 2, 3, 4, 5, 6]);
  const buf = fakeBuffer();
  // 100 batches of 1 MiB wait for the hub.
  let unacked = 100;
  (buf as unknown as { state: () => object }).state = () => ({ firstSequence: 1, committedSequence: unacked, committedPosition: 0n, ackedSequence: 0, bytes: unacked << 20, maxBytes: 1 << 30 });
  const e = engine(src, buf);
  const stop = new AbortController();
  const running = e.run(stop.signal);
  e.include(['public.t']);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(src.emitted, [], 'held back while 100 batches wait for the hub');
  unacked = 0;
  await until(() => buf.records.get('public.t')?.state === 'done');
  assert.deepEqual(src.emitted, [1, 2, 3, 4, 5, 6]);
  stop.abort();
  await running;
});

/** A source that writes several watermarks in one transaction: records every write's sides, in order. */
class BatchingSource extends FakeSource {
  readonly writes: string[][] = [];
  private inBatch = false;
  override writeWatermark(id: string): Promise<void> {
    if (!this.inBatch) this.writes.push([id.slice(id.lastIndexOf(':') + 1)]);
    return super.writeWatermark(id);
  }
  async writeWatermarks(ids: readonly string[]): Promise<void> {
    this.writes.push(ids.map((id) => id.slice(id.lastIndexOf(':') + 1)));
    this.inBatch = true;
    try {
      for (const id of ids) await super.writeWatermark(id);
    } finally {
      this.inBatch = false;
    }
  }
}

test("a chunk's high watermark shares one write with the next chunk's low watermark; the last goes alone", async () => {
  const src = new BatchingSource();
  await snapshotToEnd(src, [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(src.emitted, [1, 2, 3, 4, 5, 6, 7]);
  // Three chunks: the first low watermark, then HW1+LW2 and HW2+LW3 in one write each, HW3 alone at the end.
  assert.deepEqual(src.writes, [['low'], ['high', 'low'], ['high', 'low'], ['high']]);
});

/**
 * Rejects the high watermark of its `rejectChunk`-th chunk once (as the
 * capture does for a chunk whose SELECT missed a transaction), and checks at
 * every stored record that every row up to its last key was emitted before.
 */
class RejectingSource extends FakeSource {
  rejectChunk = 2;
  private highs = 0;
  readonly violations: string[] = [];
  override writeWatermark(id: string): Promise<void> {
    if (!id.endsWith(':high') || ++this.highs !== this.rejectChunk) return super.writeWatermark(id);
    this.engine.hooks.watermark(id)?.rejected('a transaction was not yet visible to the chunk SELECT');
    return Promise.resolve();
  }
  protected override stored(record: SnapshotRecord): void {
    const last = Number(record.lastKey?.[0] ?? -1);
    const missing = (this.tables.get(record.table) ?? []).filter((k) => k <= last && !this.emitted.includes(k));
    if (missing.length > 0) this.violations.push(`record at key ${last} stored before rows ${missing.join(',')} were written`);
  }
}

test('after a chunk is rejected at its high watermark, no later chunk stores a record past it before it is read again', async () => {
  const src = new RejectingSource();
  await snapshotToEnd(src, Array.from({ length: 15 }, (_, i) => i + 1));
  assert.deepEqual(src.violations, [], 'a restart would have resumed after rows that never reached the spool');
  assert.deepEqual([...new Set(src.emitted)].sort((a, b) => a - b), Array.from({ length: 15 }, (_, i) => i + 1));
});
