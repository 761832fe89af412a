import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { ColumnSchema, TableSchemaSchema, ValueKind, type TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { HubError, type HubErrorKind } from '../../errors.js';
import { LmdbChangeLog } from './lmdb-log.js';

const SRC = 'agent-1/orders-db';
const OTHER = 'agent-2/crm';

function batch(tag: number, size = 16): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (tag * 31 + i) & 0xff);
}

function schema(table: string, version: number, columns: ReadonlyArray<[string, ValueKind]>): TableSchema {
  return create(TableSchemaSchema, {
    schema: 'public',
    table,
    version,
    sincePosition: 77n,
    relationId: 16_400,
    columns: columns.map(([name, kind], i) => create(ColumnSchema, { name, kind, sourceType: kind === ValueKind.INT64 ? 'bigint' : 'text', key: i === 0, nullable: i !== 0 })),
  });
}

function isHubError(kind: HubErrorKind): (e: unknown) => boolean {
  return (e: unknown) => e instanceof HubError && e.kind === kind;
}

describe('LmdbChangeLog', () => {
  let dir: string;
  const open: LmdbChangeLog[] = [];

  function openLog(): LmdbChangeLog {
    const log = new LmdbChangeLog(dir);
    open.push(log);
    return log;
  }

  async function close(log: LmdbChangeLog): Promise<void> {
    open.splice(open.indexOf(log), 1);
    await log[Symbol.asyncDispose]();
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-hub-log-test-'));
  });

  afterEach(async () => {
    for (const log of open.splice(0)) await log[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts empty', () => {
    const log = openLog();
    assert.equal(log.headOffset(), 0);
    assert.deepEqual(log.read(0, 10), []);
    assert.equal(log.checkpoint(SRC), undefined);
    assert.deepEqual(log.checkpoints(), []);
    assert.equal(log.sinkOffset('warehouse'), 0);
  });

  it('appends with dense offsets across sources and reads entries back', async () => {
    const log = openLog();
    assert.equal(await log.append(SRC, 1, 100n, batch(1), []), 'appended');
    assert.equal(await log.append(OTHER, 1, 5n, batch(2), []), 'appended');
    assert.equal(await log.append(SRC, 2, 200n, batch(3), []), 'appended');
    assert.equal(log.headOffset(), 3);

    const entries = log.read(1, 10);
    assert.deepEqual(
      entries.map((e) => [e.offset, e.sourceKey, e.sequence]),
      [
        [1, SRC, 1],
        [2, OTHER, 1],
        [3, SRC, 2],
      ],
    );
    assert.deepEqual(new Uint8Array(entries[2]?.bytes ?? []), batch(3));
    assert.deepEqual(
      log.read(2, 1).map((e) => e.offset),
      [2],
    );
    assert.deepEqual(log.read(4, 10), []);
  });

  it('wakes readers only for entries they can read: an append in flight is not yet visible', async () => {
    const log = openLog();
    const appending = log.append(SRC, 1, 100n, batch(1), []);
    // The write is not committed yet: a reader must neither see the offset nor be woken for it
    // (woken early, a reader loop would spin on resolved promises and starve the write).
    assert.equal(log.headOffset(), 0);
    assert.equal(log.read(1, 10).length, 0);
    let woken = false;
    const ac = new AbortController();
    const waiting = log.waitFor(0, ac.signal).then(() => (woken = true));
    assert.equal(await appending, 'appended');
    await waiting;
    assert.ok(woken);
    assert.equal(log.headOffset(), 1);
    assert.equal(log.read(1, 10).length, 1, 'readable once the reader is woken');
  });

  it('keeps a checkpoint per source', async () => {
    const log = openLog();
    await log.append(SRC, 1, 100n, batch(1), []);
    await log.append(OTHER, 1, 2n ** 64n - 1n, batch(2), []);
    await log.append(SRC, 2, 200n, batch(3), []);
    assert.deepEqual(log.checkpoint(SRC), { sourceKey: SRC, ackedSequence: 2, sourcePosition: 200n, lastOffset: 3 });
    assert.deepEqual(log.checkpoint(OTHER), { sourceKey: OTHER, ackedSequence: 1, sourcePosition: 2n ** 64n - 1n, lastOffset: 2 });
    assert.deepEqual(
      log.checkpoints().sort((a, b) => a.sourceKey.localeCompare(b.sourceKey)),
      [log.checkpoint(SRC), log.checkpoint(OTHER)].sort((a, b) => (a?.sourceKey ?? '').localeCompare(b?.sourceKey ?? '')),
    );
  });

  it('orders concurrent appends of one source in sequence order', async () => {
    const log = openLog();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(SRC, i + 1, BigInt(i + 1), batch(i), [])));
    assert.deepEqual(results, new Array(10).fill('appended'));
    assert.deepEqual(
      log.read(1, 100).map((e) => e.sequence),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(log.checkpoint(SRC)?.ackedSequence, 10);
  });

  it('answers a retransmitted sequence with the same bytes as a duplicate, without a new offset', async () => {
    const log = openLog();
    await log.append(SRC, 1, 100n, batch(1), []);
    await log.append(SRC, 2, 200n, batch(2), []);
    assert.equal(await log.append(SRC, 1, 100n, batch(1), []), 'duplicate');
    assert.equal(await log.append(SRC, 2, 200n, batch(2), []), 'duplicate');
    assert.equal(log.headOffset(), 2);
    assert.equal(log.read(1, 100).length, 2);
    assert.equal(log.checkpoint(SRC)?.ackedSequence, 2);
    // and the source continues where it was
    assert.equal(await log.append(SRC, 3, 300n, batch(3), []), 'appended');
    assert.equal(log.headOffset(), 3);
  });

  it('recognises a duplicate of a batch whose append is still in flight', async () => {
    const log = openLog();
    const first = log.append(SRC, 1, 100n, batch(1), []);
    const again = log.append(SRC, 1, 100n, batch(1), []);
    assert.deepEqual(await Promise.all([first, again]), ['appended', 'duplicate']);
    assert.equal(log.headOffset(), 1);
  });

  it('refuses a sequence replayed with different bytes (sequence-conflict)', async () => {
    const log = openLog();
    await log.append(SRC, 1, 100n, batch(1), []);
    await assert.rejects(log.append(SRC, 1, 100n, batch(99), []), isHubError('sequence-conflict'));
    await assert.rejects(log.append(SRC, 1, 100n, batch(1, 17), []), isHubError('sequence-conflict'));
    assert.equal(log.headOffset(), 1);
    assert.deepEqual(new Uint8Array(log.read(1, 1)[0]?.bytes ?? []), batch(1));
  });

  it('refuses a sequence past the next expected one (sequence-gap), and then accepts the right one', async () => {
    const log = openLog();
    await assert.rejects(log.append(SRC, 2, 100n, batch(1), []), isHubError('sequence-gap'));
    assert.equal(log.headOffset(), 0);
    await log.append(SRC, 1, 100n, batch(1), []);
    await assert.rejects(log.append(SRC, 3, 300n, batch(3), []), isHubError('sequence-gap'));
    assert.equal(await log.append(SRC, 2, 200n, batch(2), []), 'appended');
    assert.equal(log.headOffset(), 2);
    // another source has its own sequence space
    await assert.rejects(log.append(OTHER, 2, 1n, batch(5), []), isHubError('sequence-gap'));
    assert.equal(await log.append(OTHER, 1, 1n, batch(5), []), 'appended');
  });

  it('keeps entries, checkpoints and duplicate detection across reopen', async () => {
    let log = openLog();
    await log.append(SRC, 1, 100n, batch(1), []);
    await log.append(SRC, 2, 200n, batch(2), []);
    await log.append(OTHER, 1, 7n, batch(3), []);
    await close(log);

    log = openLog();
    assert.equal(log.headOffset(), 3);
    assert.deepEqual(log.checkpoint(SRC), { sourceKey: SRC, ackedSequence: 2, sourcePosition: 200n, lastOffset: 2 });
    assert.deepEqual(log.checkpoint(OTHER), { sourceKey: OTHER, ackedSequence: 1, sourcePosition: 7n, lastOffset: 3 });
    assert.equal(await log.append(SRC, 2, 200n, batch(2), []), 'duplicate');
    await assert.rejects(log.append(SRC, 1, 100n, batch(42), []), isHubError('sequence-conflict'));
    await assert.rejects(log.append(SRC, 4, 400n, batch(4), []), isHubError('sequence-gap'));
    assert.equal(await log.append(SRC, 3, 300n, batch(4), []), 'appended');
    assert.equal(log.headOffset(), 4);
    assert.deepEqual(
      log.read(1, 10).map((e) => [e.offset, e.sourceKey, e.sequence]),
      [
        [1, SRC, 1],
        [2, SRC, 2],
        [3, OTHER, 1],
        [4, SRC, 3],
      ],
    );
  });

  it('registers schemas with their batch and returns them, also after reopen', async () => {
    let log = openLog();
    const orders = schema('orders', 1, [
      ['id', ValueKind.INT64],
      ['name', ValueKind.TEXT],
    ]);
    const orders2 = schema('orders', 2, [
      ['id', ValueKind.INT64],
      ['name', ValueKind.TEXT],
      ['note', ValueKind.TEXT],
    ]);
    await log.append(SRC, 1, 100n, batch(1), [orders]);
    await log.append(SRC, 2, 200n, batch(2), [orders2]);
    assert.deepEqual(toBinary(TableSchemaSchema, log.schema(SRC, 'public', 'orders', 1) ?? schema('x', 0, [])), toBinary(TableSchemaSchema, orders));
    assert.deepEqual(log.schema(SRC, 'public', 'orders', 2)?.columns.map((c) => c.name), ['id', 'name', 'note']);
    assert.equal(log.schema(SRC, 'public', 'orders', 3), undefined);
    assert.equal(log.schema(OTHER, 'public', 'orders', 1), undefined);
    assert.equal(log.schema(SRC, 'other', 'orders', 1), undefined);
    await close(log);

    log = openLog();
    assert.deepEqual(toBinary(TableSchemaSchema, log.schema(SRC, 'public', 'orders', 2) ?? schema('x', 0, [])), toBinary(TableSchemaSchema, orders2));
  });

  it('lists every stored schema version with the time it was first stored, kept when the agent sends it again', async () => {
    let log = openLog();
    const before = Date.now() * 1000;
    await log.append(SRC, 1, 100n, batch(1), [schema('orders', 1, [['id', ValueKind.INT64]])]);
    const first = log.schemaRecords();
    assert.deepEqual(first.map((r) => [r.sourceKey, r.schema.table, r.schema.version]), [[SRC, 'orders', 1]]);
    const seen = first[0]?.firstSeenUs ?? 0;
    assert.ok(seen >= before - 1000 && seen <= Date.now() * 1000 + 1000, `first seen ${seen}`);
    await new Promise((r) => setTimeout(r, 5));
    // After a reconnect the agent sends the version again with its next batch.
    await log.append(SRC, 2, 200n, batch(2), [schema('orders', 1, [['id', ValueKind.INT64]])]);
    await close(log);
    log = openLog();
    assert.deepEqual(log.schemaRecords().map((r) => r.firstSeenUs), [seen]);
  });

  it('accepts the same schema version again with the same columns', async () => {
    const log = openLog();
    const s = schema('orders', 1, [['id', ValueKind.INT64]]);
    await log.append(SRC, 1, 100n, batch(1), [s]);
    assert.equal(await log.append(SRC, 2, 200n, batch(2), [schema('orders', 1, [['id', ValueKind.INT64]])]), 'appended');
  });

  it('refuses the same (table, version) with different columns (sequence-conflict) without consuming the sequence', async () => {
    const log = openLog();
    await log.append(SRC, 1, 100n, batch(1), [schema('orders', 1, [['id', ValueKind.INT64]])]);
    const renamed = schema('orders', 1, [['order_id', ValueKind.INT64]]);
    const retyped = schema('orders', 1, [['id', ValueKind.TEXT]]);
    const widened = schema('orders', 1, [
      ['id', ValueKind.INT64],
      ['x', ValueKind.TEXT],
    ]);
    for (const s of [renamed, retyped, widened]) await assert.rejects(log.append(SRC, 2, 200n, batch(2), [s]), isHubError('sequence-conflict'));
    assert.equal(log.headOffset(), 1);
    assert.deepEqual(log.schema(SRC, 'public', 'orders', 1)?.columns.map((c) => c.name), ['id']);
    // the same sequence with a proper new version goes through
    assert.equal(await log.append(SRC, 2, 200n, batch(2), [schema('orders', 2, [['order_id', ValueKind.INT64]])]), 'appended');
    // another source may use the same table and version with other columns
    assert.equal(await log.append(OTHER, 1, 1n, batch(3), [renamed]), 'appended');
  });

  it(
    'a failed append stores nothing and does not consume its sequence',
    async () => {
      const log = openLog();
      const unencodable = create(TableSchemaSchema, { schema: 'public', table: 'orders', version: -1 });
      await assert.rejects(log.append(SRC, 1, 100n, batch(1), [unencodable]));
      assert.equal(log.headOffset(), 0);
      assert.deepEqual(log.read(0, 10), []);
      assert.equal(log.checkpoint(SRC), undefined);
      const valid = schema('orders', 1, [['id', ValueKind.INT64]]);
      assert.equal(await log.append(SRC, 1, 100n, batch(1), [valid]), 'appended');
      assert.ok(log.schema(SRC, 'public', 'orders', 1) !== undefined);
    },
  );

  it('takes appends concurrently, and a batch refused inside a shared commit leaves no later batch stored behind a gap', async () => {
    const log = openLog();
    assert.equal(log.concurrentAppends, true);
    await log.append(SRC, 1, 100n, batch(1), []);
    // One turn: 2 registers orders v1; 3 carries v1 with other columns (seen only inside the write); 4 follows 3.
    const two = log.append(SRC, 2, 200n, batch(2), [schema('orders', 1, [['id', ValueKind.INT64]])]);
    const three = log.append(SRC, 3, 300n, batch(3), [schema('orders', 1, [['id', ValueKind.TEXT]])]);
    const four = log.append(SRC, 4, 400n, batch(4), []);
    const settled = await Promise.allSettled([two, three, four]);
    assert.equal(settled[0].status === 'fulfilled' && settled[0].value, 'appended');
    assert.ok(settled[1].status === 'rejected' && isHubError('sequence-conflict')(settled[1].reason));
    assert.ok(settled[2].status === 'rejected' && isHubError('sequence-gap')(settled[2].reason));
    assert.deepEqual(
      log.read(0, 10).map((e) => e.sequence),
      [1, 2],
    );
    assert.equal(log.checkpoint(SRC)?.ackedSequence, 2);
    // The agent resends from 3 after the refusal: the log takes it.
    assert.equal(await log.append(SRC, 3, 300n, batch(3), []), 'appended');
    assert.deepEqual(
      log.read(0, 10).map((e) => e.sequence),
      [1, 2, 3],
    );
  });

  it('persists sink offsets across reopen', async () => {
    let log = openLog();
    await log.commitSinkOffset('warehouse', 7);
    await log.commitSinkOffset('lake', 3);
    await log.commitSinkOffset('warehouse', 9);
    assert.equal(log.sinkOffset('warehouse'), 9);
    await close(log);
    log = openLog();
    assert.equal(log.sinkOffset('warehouse'), 9);
    assert.equal(log.sinkOffset('lake'), 3);
    assert.equal(log.sinkOffset('unknown'), 0);
  });

  it('waitFor resolves once an entry beyond the offset exists, or on abort', async () => {
    const log = openLog();
    let resolved = false;
    const waiting = log.waitFor(0, new AbortController().signal).then(() => {
      resolved = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(resolved, false);
    await log.append(SRC, 1, 1n, batch(1), []);
    await waiting;
    assert.equal(resolved, true);
    await log.waitFor(0, new AbortController().signal); // already satisfied

    const ac = new AbortController();
    const aborted = log.waitFor(5, ac.signal);
    ac.abort();
    await aborted;
    assert.equal(log.headOffset(), 1);
  });

  it('compact removes the entries every sink has applied and keeps the head across reopen', async () => {
    let log = openLog();
    for (let i = 1; i <= 6; i++) await log.append(SRC, i, BigInt(i * 10), batch(i), []);
    await log.commitSinkOffset('a', 3);
    await log.commitSinkOffset('b', 5);

    assert.equal(await log.compact([]), 0);
    assert.equal(await log.compact(['a', 'b']), 3);
    assert.deepEqual(
      log.read(0, 100).map((e) => e.offset),
      [4, 5, 6],
    );
    assert.equal(log.headOffset(), 6);
    assert.equal(await log.compact(['a', 'b']), 0); // nothing more
    // a sink that never committed holds everything back
    assert.equal(await log.compact(['a', 'b', 'new-sink']), 0);
    assert.deepEqual(
      log.read(0, 100).map((e) => e.offset),
      [4, 5, 6],
    );

    await log.commitSinkOffset('a', 6);
    await log.commitSinkOffset('b', 6);
    assert.equal(await log.compact(['a', 'b']), 3);
    assert.deepEqual(log.read(0, 100), []);
    await close(log);

    log = openLog();
    assert.equal(log.headOffset(), 6);
    assert.equal(log.checkpoint(SRC)?.ackedSequence, 6);
    // the next append continues the offsets, and duplicates of compacted batches are still recognised
    assert.equal(await log.append(SRC, 6, 60n, batch(6), []), 'duplicate');
    assert.equal(await log.append(SRC, 7, 70n, batch(7), []), 'appended');
    assert.equal(log.headOffset(), 7);
    assert.deepEqual(
      log.read(0, 100).map((e) => [e.offset, e.sequence]),
      [[7, 7]],
    );
  });
});
