import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { ChangeBatchSchema } from '../../proto/gen/tributary/v1/change_pb.js';
import { BatchBuilder } from './batch-builder.js';
import type { SpooledBatch } from './change-buffer.js';
import { LmdbChangeBuffer } from './lmdb-change-buffer.js';

const MiB = 1 << 20;

/** A batch body (ChangeBatch fields 2..5) of roughly `padding` bytes: the padding rides in an unknown field. */
function body(position: bigint, boundary: boolean, padding = 0): Uint8Array {
  const built = new BatchBuilder().build(position, boundary);
  if (padding === 0) return built;
  // field 15, length-delimited: tag 0x7a, varint length, bytes
  const len: number[] = [];
  let n = padding;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  const out = new Uint8Array(built.length + 1 + len.length + padding);
  out.set(built, 0);
  out.set([0x7a, ...len], built.length);
  out.fill(0xab, built.length + 1 + len.length);
  return out;
}

function sequences(batches: readonly SpooledBatch[]): number[] {
  return batches.map((b) => b.sequence);
}

describe('LmdbChangeBuffer', () => {
  let dir: string;
  const open: LmdbChangeBuffer[] = [];

  async function openBuffer(maxBytes = 64 * MiB, recentBytes?: number): Promise<LmdbChangeBuffer> {
    const b = await LmdbChangeBuffer.open({ path: dir, maxBytes, ...(recentBytes !== undefined ? { recentBytes } : {}) });
    open.push(b);
    return b;
  }

  async function close(b: LmdbChangeBuffer): Promise<void> {
    open.splice(open.indexOf(b), 1);
    await b[Symbol.asyncDispose]();
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-spool-test-'));
  });

  afterEach(async () => {
    for (const b of open.splice(0)) await b[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores a source state with the boundary that set its position, across a reopen, and not with an open piece', async () => {
    let b = await openBuffer();
    await b.append(body(10n, true), 10n, [], 'state-at-10');
    await b.append(body(10n, false), null, [], 'ignored');
    await b.append(body(20n, true), 20n);
    assert.equal(b.state().sourceState, 'state-at-10');
    await b.append(body(30n, false), null);
    await close(b);
    b = await openBuffer();
    assert.equal(b.state().committedPosition, 20n);
    assert.equal(b.state().sourceState, 'state-at-10');
    await b.append(body(40n, true), 40n, [], 'state-at-40');
    await b.acknowledge(1);
    await close(b);
    b = await openBuffer();
    assert.deepEqual([b.state().committedPosition, b.state().sourceState], [40n, 'state-at-40']);
  });

  it('starts empty', async () => {
    const b = await openBuffer();
    assert.deepEqual(b.state(), { firstSequence: 1, committedSequence: 0, committedPosition: 0n, ackedSequence: 0, bytes: 0, maxBytes: 64 * MiB });
    assert.deepEqual(b.read(1, 100, MiB), []);
    assert.equal(b.isFull(), false);
  });

  it('assigns dense sequences 1..n and stores the sequence in the batch bytes', async () => {
    const b = await openBuffer();
    const seqs: number[] = [];
    for (let i = 1; i <= 5; i++) seqs.push(await b.append(body(BigInt(i * 100), true), BigInt(i * 100)));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
    const read = b.read(1, 100, MiB);
    assert.deepEqual(sequences(read), [1, 2, 3, 4, 5]);
    for (const r of read) {
      const batch = fromBinary(ChangeBatchSchema, r.bytes);
      assert.equal(batch.sequence, BigInt(r.sequence));
      assert.equal(batch.sourcePosition, BigInt(r.sequence * 100));
      assert.equal(batch.commitBoundary, true);
    }
    assert.equal(b.state().committedSequence, 5);
    assert.equal(b.state().committedPosition, 500n);
  });

  it('assigns dense sequences in call order to concurrent appends', async () => {
    const b = await openBuffer();
    const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => b.append(body(BigInt(i + 1), true), BigInt(i + 1))));
    assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i + 1));
    assert.deepEqual(sequences(b.read(1, 100, 64 * MiB)), seqs);
    assert.equal(b.state().committedPosition, 20n);
  });

  it('keeps batches of an open transaction invisible until a boundary append', async () => {
    const b = await openBuffer();
    assert.equal(await b.append(body(10n, true), 10n), 1);
    assert.equal(await b.append(body(0n, false), null), 2);
    assert.equal(await b.append(body(0n, false), null), 3);
    assert.deepEqual(sequences(b.read(1, 100, MiB)), [1]);
    assert.equal(b.state().committedSequence, 1);
    assert.equal(b.state().committedPosition, 10n);

    assert.equal(await b.append(body(20n, true), 20n), 4);
    assert.deepEqual(sequences(b.read(1, 100, MiB)), [1, 2, 3, 4]);
    assert.equal(b.state().committedSequence, 4);
    assert.equal(b.state().committedPosition, 20n);
  });

  it('read honours from, maxBatches and maxBytes (always at least one batch)', async () => {
    const b = await openBuffer();
    for (let i = 1; i <= 6; i++) await b.append(body(BigInt(i), true, 1000), BigInt(i));
    assert.deepEqual(sequences(b.read(3, 100, MiB)), [3, 4, 5, 6]);
    assert.deepEqual(sequences(b.read(2, 2, MiB)), [2, 3]);
    assert.deepEqual(sequences(b.read(1, 100, 2500)), [1, 2, 3]);
    assert.deepEqual(sequences(b.read(1, 100, 1)), [1]);
    assert.deepEqual(sequences(b.read(7, 100, MiB)), []);
    assert.deepEqual(sequences(b.read(0, 1, MiB)), [1]);
  });

  it('reads the newest batches from memory and older ones from LMDB, the same bytes either way', async () => {
    const hex = (batches: readonly SpooledBatch[]): Array<[number, string]> => batches.map((x) => [x.sequence, Buffer.from(x.bytes).toString('hex')]);
    // Room in memory for about two of these batches: 1..4 come from LMDB, 5..6 from memory.
    let b = await openBuffer(64 * MiB, 2500);
    for (let i = 1; i <= 6; i++) await b.append(body(BigInt(i), true, 1000 + i), BigInt(i));
    const mixed = hex(b.read(1, 100, MiB));
    assert.deepEqual(
      mixed.map(([, h]) => fromBinary(ChangeBatchSchema, Buffer.from(h, 'hex')).sequence),
      [1n, 2n, 3n, 4n, 5n, 6n],
    );
    assert.deepEqual(sequences(b.read(5, 100, MiB)), [5, 6]);
    assert.deepEqual(sequences(b.read(4, 2, MiB)), [4, 5]);
    assert.deepEqual(sequences(b.read(5, 1, MiB)), [5]);
    assert.deepEqual(sequences(b.read(5, 100, 1)), [5]);
    await close(b);
    // Reopened, nothing is in memory: the same batches from LMDB alone.
    b = await openBuffer(64 * MiB, 0);
    assert.deepEqual(hex(b.read(1, 100, MiB)), mixed);
    await close(b);
    // Acknowledged batches leave memory with the spool.
    b = await openBuffer();
    await b.append(body(7n, true, 1000), 7n);
    await b.acknowledge(5);
    assert.deepEqual(sequences(b.read(1, 100, MiB)), [6, 7]);
    assert.equal(b.state().bytes, b.read(6, 2, MiB).reduce((n, x) => n + x.bytes.length, 0));
  });

  it('reopening keeps committed batches and discards the uncommitted tail', async () => {
    let b = await openBuffer();
    assert.equal(await b.append(body(10n, true), 10n), 1);
    assert.equal(await b.append(body(0n, false, 500), null), 2);
    await close(b);

    b = await openBuffer();
    const s = b.state();
    assert.equal(s.committedSequence, 1);
    assert.equal(s.committedPosition, 10n);
    assert.equal(s.firstSequence, 1);
    assert.equal(s.bytes, b.read(1, 10, MiB)[0]?.bytes.length);
    assert.deepEqual(sequences(b.read(1, 100, MiB)), [1]);
    assert.equal(await b.append(body(30n, true), 30n), 2);
    const read = b.read(1, 100, MiB);
    assert.deepEqual(sequences(read), [1, 2]);
    // the new batch 2 is the new body, not the discarded one
    assert.equal(fromBinary(ChangeBatchSchema, read[1]?.bytes ?? new Uint8Array()).sourcePosition, 30n);
    await close(b);

    b = await openBuffer();
    assert.deepEqual(sequences(b.read(1, 100, MiB)), [1, 2]);
    assert.equal(b.state().committedPosition, 30n);
  });

  it('discardUncommitted drops the open transaction and reuses its sequences', async () => {
    const b = await openBuffer();
    await b.append(body(10n, true), 10n);
    const before = b.state().bytes;
    await b.append(body(0n, false, 2000), null);
    await b.append(body(0n, false, 2000), null);
    assert.ok(b.state().bytes > before + 4000);
    await b.discardUncommitted();
    assert.equal(b.state().bytes, before);
    assert.equal(b.state().committedSequence, 1);
    assert.equal(await b.append(body(20n, true), 20n), 2);
    assert.deepEqual(sequences(b.read(1, 100, MiB)), [1, 2]);
    // batch 2 is the new body, not a discarded one still held in memory
    assert.equal(fromBinary(ChangeBatchSchema, b.read(2, 1, MiB)[0]?.bytes ?? new Uint8Array()).sourcePosition, 20n);
    // nothing to discard is a no-op
    await b.discardUncommitted();
    assert.deepEqual(sequences(b.read(1, 100, MiB)), [1, 2]);
    assert.equal(await b.append(body(30n, true), 30n), 3);
  });

  it('acknowledge trims batches and updates firstSequence, ackedSequence and bytes', async () => {
    const b = await openBuffer();
    const sizes: number[] = [];
    for (let i = 1; i <= 4; i++) {
      await b.append(body(BigInt(i), true, i * 100), BigInt(i));
      sizes.push(b.read(i, 1, MiB)[0]?.bytes.length ?? 0);
    }
    assert.equal(b.state().bytes, sizes.reduce((x, y) => x + y, 0));

    await b.acknowledge(2);
    let s = b.state();
    assert.equal(s.firstSequence, 3);
    assert.equal(s.ackedSequence, 2);
    assert.equal(s.bytes, (sizes[2] ?? 0) + (sizes[3] ?? 0));
    assert.deepEqual(sequences(b.read(1, 100, MiB)), [3, 4]);

    // an older or repeated ack changes nothing
    await b.acknowledge(1);
    await b.acknowledge(2);
    assert.deepEqual(b.state(), s);

    // an ack beyond the committed sequence is capped at it
    await b.append(body(0n, false), null);
    await b.acknowledge(99);
    s = b.state();
    assert.equal(s.ackedSequence, 4);
    assert.equal(s.firstSequence, 5);
    assert.deepEqual(sequences(b.read(1, 100, MiB)), []);
    assert.equal(await b.append(body(6n, true), 6n), 6);
    assert.deepEqual(sequences(b.read(1, 100, MiB)), [5, 6]);
  });

  it('acknowledgements persist across reopen', async () => {
    let b = await openBuffer();
    for (let i = 1; i <= 3; i++) await b.append(body(BigInt(i), true), BigInt(i));
    await b.acknowledge(2);
    await close(b);
    b = await openBuffer();
    const s = b.state();
    assert.equal(s.ackedSequence, 2);
    assert.equal(s.firstSequence, 3);
    assert.equal(s.committedSequence, 3);
    assert.deepEqual(sequences(b.read(1, 100, MiB)), [3]);
    assert.equal(await b.append(body(4n, true), 4n), 4);
  });

  it(
    'an acknowledge racing a boundary append does not roll back the committed sequence on disk',
    async () => {
      let b = await openBuffer();
      await b.append(body(10n, true), 10n);
      const pending = b.append(body(20n, true), 20n);
      await b.acknowledge(1);
      assert.equal(await pending, 2);
      assert.equal(b.state().committedSequence, 2);
      await close(b);

      b = await openBuffer();
      assert.equal(b.state().committedSequence, 2);
      assert.equal(b.state().committedPosition, 20n);
      assert.deepEqual(sequences(b.read(1, 100, MiB)), [2]);
    },
  );

  it('isFull and waitForRoom follow maxBytes and resolve after acknowledge', async () => {
    const b = await openBuffer(MiB);
    await b.append(body(1n, true, 600_000), 1n);
    assert.equal(b.isFull(), false);
    await b.waitForRoom(new AbortController().signal); // resolves at once
    await b.append(body(2n, true, 600_000), 2n);
    assert.equal(b.isFull(), true);
    assert.ok(b.state().bytes >= MiB);

    let resolved = false;
    const room = b.waitForRoom(new AbortController().signal).then(() => {
      resolved = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(resolved, false);
    await b.acknowledge(1);
    await room;
    assert.equal(resolved, true);
    assert.equal(b.isFull(), false);
  });

  it('waitForRoom resolves when its signal aborts', async () => {
    const b = await openBuffer(MiB);
    await b.append(body(1n, true, MiB), 1n);
    assert.equal(b.isFull(), true);
    const ac = new AbortController();
    const room = b.waitForRoom(ac.signal);
    ac.abort();
    await room;
    assert.equal(b.isFull(), true);
    await b.waitForRoom(ac.signal); // already aborted: resolves at once
  });

  it('counts uncommitted batches toward isFull', async () => {
    const b = await openBuffer(MiB);
    await b.append(body(0n, false, MiB), null);
    assert.equal(b.isFull(), true);
    await b.discardUncommitted();
    assert.equal(b.isFull(), false);
  });

  it('waitFor resolves on a later commit, not on a non-boundary append', async () => {
    const b = await openBuffer();
    await b.append(body(1n, true), 1n);
    await b.waitFor(0, new AbortController().signal); // already visible

    let resolved = false;
    const waiting = b.waitFor(1, new AbortController().signal).then(() => {
      resolved = true;
    });
    await b.append(body(0n, false), null);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(resolved, false);
    await b.append(body(3n, true), 3n);
    await waiting;
    assert.equal(resolved, true);
    assert.deepEqual(sequences(b.read(2, 10, MiB)), [2, 3]);
  });

  it('waitFor resolves when its signal aborts', async () => {
    const b = await openBuffer();
    const ac = new AbortController();
    const waiting = b.waitFor(0, ac.signal);
    ac.abort();
    await waiting;
    assert.equal(b.state().committedSequence, 0);
  });

  it('records schema versions with the append and keeps them across reopen', async () => {
    let b = await openBuffer();
    assert.equal(b.schemaVersion('public.orders'), undefined);
    await b.append(body(10n, true), 10n, [
      { tableKey: 'public.orders', version: 1, fingerprint: 'aaa' },
      { tableKey: 'public.items', version: 3, fingerprint: 'bbb' },
    ]);
    assert.deepEqual(b.schemaVersion('public.orders'), { tableKey: 'public.orders', version: 1, fingerprint: 'aaa' });
    await b.append(body(20n, true), 20n, [{ tableKey: 'public.orders', version: 2, fingerprint: 'ccc' }]);
    assert.deepEqual(b.schemaVersion('public.orders'), { tableKey: 'public.orders', version: 2, fingerprint: 'ccc' });
    await close(b);

    b = await openBuffer();
    assert.deepEqual(b.schemaVersion('public.orders'), { tableKey: 'public.orders', version: 2, fingerprint: 'ccc' });
    assert.deepEqual(b.schemaVersion('public.items'), { tableKey: 'public.items', version: 3, fingerprint: 'bbb' });
    assert.equal(b.schemaVersion('public.nope'), undefined);
  });

  it('keeps an appended batch after the process is killed with SIGKILL', async () => {
    const moduleUrl = new URL('./lmdb-change-buffer.ts', import.meta.url).href;
    const script = `
      const { LmdbChangeBuffer } = await import(${JSON.stringify(moduleUrl)});
      const b = await LmdbChangeBuffer.open({ path: ${JSON.stringify(dir)}, maxBytes: 1 << 30 });
      const body = Uint8Array.of(0x20, 0x2a, 0x28, 0x01); // source_position 42, commit_boundary
      const seq1 = await b.append(body, 42n);
      const seq2 = await b.append(Uint8Array.of(0x20, 0x2b), null);
      const seq3 = await b.append(Uint8Array.of(0x20, 0x2c, 0x28, 0x01), 44n);
      process.stdout.write('appended ' + seq1 + ' ' + seq2 + ' ' + seq3 + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child did not append in time: ${stderr}`)), 4000);
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('\n')) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => {
        clearTimeout(timer);
        if (!stdout.includes('\n')) reject(new Error(`child exited early: ${stderr}`));
      });
    });
    assert.equal(await exited, 'SIGKILL');
    assert.equal(stdout.trim(), 'appended 1 2 3');

    const b = await openBuffer();
    assert.equal(b.state().committedSequence, 3);
    assert.equal(b.state().committedPosition, 44n);
    const read = b.read(1, 10, MiB);
    assert.deepEqual(sequences(read), [1, 2, 3]);
    assert.equal(fromBinary(ChangeBatchSchema, read[0]?.bytes ?? new Uint8Array()).sourcePosition, 42n);
  });
});
