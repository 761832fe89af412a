import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { ChangeBatchSchema, Op, ValueKind, type ChangeBatch } from '../../../proto/gen/tributary/v1/change_pb.js';
import { decodeRow, UNCHANGED } from '../../../proto/tributary/v1/row-codec.js';
import { pgoutput, UNCHANGED_TOAST, type ByteBuilder, type FixtureColumn, type FixtureRelationColumn } from '../../../test/support/pgoutput-builder.js';
import { withSequence } from '../../buffer/batch-builder.js';
import type { ChangeBuffer, ChangeBufferState, SchemaVersionRecord, SpooledBatch } from '../../buffer/change-buffer.js';
import { AgentError } from '../../errors.js';
import type { SnapshotRecord } from '../../snapshot/snapshot-record.js';
import { WATERMARK_PREFIX, type Chunk } from '../../snapshot/snapshot-source.js';
import { WindowRegistry } from '../../snapshot/windows.js';
import type { PgChunkMeta } from './snapshot.js';
import { createLogger } from '../../log.js';
import { CapturedTables } from '../../pipeline/captured-tables.js';
import { rowList } from '../../snapshot/chunk-rows.js';
import { Capture, type CaptureSink } from './capture.js';
import { decodePgOutput, type RelationMessage } from './protocol.js';
import { PgTypeCatalog, type PgTypeRow } from './types.js';

// ---------------------------------------------------------------- fakes

/** One `append` call, settled by hand. */
interface Append {
  readonly body: Uint8Array;
  readonly endsTransactionAt: bigint | null;
  readonly schemaVersions: readonly SchemaVersionRecord[];
  readonly sequence: number;
  settled: boolean;
  resolve(): void;
  reject(cause: unknown): void;
}

/** In-memory ChangeBuffer whose appends and waitForRoom resolve only when the test says so. */
class FaultyBuffer implements ChangeBuffer {
  readonly appends: Append[] = [];
  readonly versions = new Map<string, SchemaVersionRecord>();
  committedPosition = 0n;
  full = false;
  private roomWaiters: Array<() => void> = [];

  state(): ChangeBufferState {
    return { firstSequence: 1, committedSequence: 0, committedPosition: this.committedPosition, ackedSequence: 0, bytes: 0, maxBytes: 1 << 20 };
  }

  append(body: Uint8Array, endsTransactionAt: bigint | null, schemaVersions: readonly SchemaVersionRecord[] = []): Promise<number> {
    const sequence = this.appends.length + 1;
    return new Promise<number>((res, rej) => {
      const a: Append = {
        body: body.slice(),
        endsTransactionAt,
        schemaVersions: [...schemaVersions],
        sequence,
        settled: false,
        resolve: () => {
          assert.equal(a.settled, false, `append #${sequence} settled twice`);
          a.settled = true;
          res(sequence);
        },
        reject: (cause) => {
          assert.equal(a.settled, false, `append #${sequence} settled twice`);
          a.settled = true;
          rej(cause);
        },
      };
      this.appends.push(a);
    });
  }

  snapshotRecords(): SnapshotRecord[] {
    return [];
  }

  putSnapshotRecord(): Promise<void> {
    return Promise.resolve();
  }

  schemaVersion(tableKey: string): SchemaVersionRecord | undefined {
    return this.versions.get(tableKey);
  }

  discardUncommitted(): Promise<void> {
    return Promise.resolve();
  }

  read(): SpooledBatch[] {
    return [];
  }

  waitFor(): Promise<void> {
    return new Promise(() => undefined);
  }

  acknowledge(): Promise<void> {
    return Promise.resolve();
  }

  isFull(): boolean {
    return this.full;
  }

  waitForRoom(): Promise<void> {
    return new Promise((r) => this.roomWaiters.push(r));
  }

  get roomWaiting(): number {
    return this.roomWaiters.length;
  }

  /** Lets every waitForRoom caller go on. */
  room(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }

  at(i: number): Append {
    const a = this.appends[i];
    assert.ok(a, `append #${i + 1} exists (have ${this.appends.length})`);
    return a;
  }
}

type SinkCall = { readonly call: 'confirm'; readonly lsn: bigint } | { readonly call: 'pause' } | { readonly call: 'resume' } | { readonly call: 'stop' };

class RecordingSink implements CaptureSink {
  readonly calls: SinkCall[] = [];
  confirm(lsn: bigint): void {
    this.calls.push({ call: 'confirm', lsn });
  }
  pause(): void {
    this.calls.push({ call: 'pause' });
  }
  resume(): void {
    this.calls.push({ call: 'resume' });
  }
  stop(): void {
    this.calls.push({ call: 'stop' });
  }
  get confirms(): bigint[] {
    return this.calls.flatMap((c) => (c.call === 'confirm' ? [c.lsn] : []));
  }
  count(call: SinkCall['call']): number {
    return this.calls.filter((c) => c.call === call).length;
  }
}

function base(oid: number, typname: string, typarray: number, category: string): PgTypeRow[] {
  return [
    { oid, typname, namespace: 'pg_catalog', typtype: 'b', typelem: 0, typbasetype: 0, typtypmod: -1, typcategory: category, typdelim: ',', typarray },
    { oid: typarray, typname: `_${typname}`, namespace: 'pg_catalog', typtype: 'b', typelem: oid, typbasetype: 0, typtypmod: -1, typcategory: 'A', typdelim: ',', typarray: 0 },
  ];
}

const catalog = new PgTypeCatalog([...base(20, 'int8', 1016, 'N'), ...base(23, 'int4', 1007, 'N'), ...base(25, 'text', 1009, 'S')]);

// ---------------------------------------------------------------- fixtures

const T0 = 1_700_000_000_000_000n;
const ORDERS = 16384;
const ITEMS = 16390;
const ORDERS_COLUMNS: FixtureRelationColumn[] = [
  { name: 'id', typeOid: 23, key: true },
  { name: 'note', typeOid: 25 },
];
const ORDERS_COLUMNS_V2: FixtureRelationColumn[] = [...ORDERS_COLUMNS, { name: 'qty', typeOid: 20 }];
const ITEMS_COLUMNS: FixtureRelationColumn[] = [
  { name: 'sku', typeOid: 25, key: true },
  { name: 'order_id', typeOid: 23 },
];

const ordersRelation = (columns = ORDERS_COLUMNS): ByteBuilder => pgoutput.relation(ORDERS, 'public', 'orders', 'd', columns);
const itemsRelation = (): ByteBuilder => pgoutput.relation(ITEMS, 'shop', 'items', 'd', ITEMS_COLUMNS);
const insert = (id: number, note = `n${id}`): ByteBuilder => pgoutput.insert(ORDERS, [String(id), note]);

interface Harness {
  readonly buffer: FaultyBuffer;
  readonly sink: RecordingSink;
  readonly capture: Capture;
  readonly lines: string[];
  feed(...messages: ByteBuilder[]): void;
  /** Feeds Begin, the body and Commit of one transaction (commit LSN = finalLsn, as PostgreSQL sends it). */
  tx(finalLsn: bigint, endLsn: bigint, xid: number, ...body: ByteBuilder[]): void;
}

function harness(options: { batchEvents?: number; batchBytes?: number; committedPosition?: bigint; versions?: readonly SchemaVersionRecord[]; tables?: CapturedTables } = {}): Harness {
  const buffer = new FaultyBuffer();
  buffer.committedPosition = options.committedPosition ?? 0n;
  for (const v of options.versions ?? []) buffer.versions.set(v.tableKey, v);
  const sink = new RecordingSink();
  const lines: string[] = [];
  const log = createLogger('debug', { component: 'capture-test' }, (l) => lines.push(l));
  const capture = new Capture(buffer, catalog, sink, log, { events: options.batchEvents ?? 1000, bytes: options.batchBytes ?? 4 << 20 }, new AbortController().signal, options.tables);
  const feed = (...messages: ByteBuilder[]): void => {
    for (const m of messages) capture.handle(decodePgOutput(m.build()));
  };
  return {
    buffer,
    sink,
    capture,
    lines,
    feed,
    tx: (finalLsn, endLsn, xid, ...body) => {
      const at = T0 + BigInt(xid);
      feed(pgoutput.begin(finalLsn, at, xid), ...body, pgoutput.commit(finalLsn, endLsn, at));
    },
  };
}

/** Lets scheduled flushes (setImmediate) and settled appends' callbacks run. */
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function decodeBatch(a: Append): ChangeBatch {
  const batch = fromBinary(ChangeBatchSchema, withSequence(a.body, a.sequence));
  assert.equal(batch.sequence, BigInt(a.sequence));
  return batch;
}

function row(bytes: Uint8Array): unknown[] {
  return decodeRow(bytes);
}

// ---------------------------------------------------------------- tests

describe('Capture', () => {
  it('drops changes of tables outside the captured set, following a set changed while it runs', async () => {
    const tables = CapturedTables.fromConfig(['public.orders']);
    const h = harness({ tables });
    h.tx(0x1000n, 0x1080n, 700, ordersRelation(), itemsRelation(), insert(1), pgoutput.insert(ITEMS, ['sku-1', '1']), pgoutput.truncate([ITEMS]));
    await tick();
    tables.replace(['shop.*']);
    h.tx(0x2000n, 0x2080n, 701, insert(2), pgoutput.insert(ITEMS, ['sku-2', '2']));
    await tick();
    const events = h.buffer.appends.flatMap((a) => decodeBatch(a).events.map((e) => `${e.schema}.${e.table}:${e.indexInTx}`));
    assert.deepEqual(events, ['public.orders:0', 'shop.items:0']);
    // both commits are spooled (and confirmed once durable), filtered or not
    assert.deepEqual(h.buffer.appends.map((a) => a.endsTransactionAt), [0x1080n, 0x2080n]);
  });

  it('confirms a commit position only after the append holding that commit resolves, and only its end LSN', async () => {
    const h = harness();
    h.feed(pgoutput.begin(0x1000n, T0, 700), ordersRelation(), insert(1), insert(2));
    await tick();
    assert.equal(h.buffer.appends.length, 0, 'nothing is spooled while the transaction is open');
    h.feed(pgoutput.commit(0x1000n, 0x1080n, T0));
    assert.deepEqual(h.sink.confirms, []);
    await tick();
    assert.equal(h.buffer.appends.length, 1);
    const a = h.buffer.at(0);
    assert.equal(a.endsTransactionAt, 0x1080n);
    await tick();
    await tick();
    assert.deepEqual(h.sink.confirms, [], 'nothing confirmed while the append is pending');
    a.resolve();
    await tick();
    assert.deepEqual(h.sink.confirms, [0x1080n], 'exactly the commit end LSN, never the Begin finalLsn');
    assert.equal(h.capture.error, null);
  });

  it('never confirms after a failed append, and reports spool-corrupt', async () => {
    const h = harness();
    h.tx(0x2000n, 0x2040n, 701, ordersRelation(), insert(1));
    await tick();
    const cause = new Error('MDB_MAP_FULL');
    h.buffer.at(0).reject(cause);
    await tick();
    await tick();
    assert.deepEqual(h.sink.confirms, []);
    const err = h.capture.error;
    assert.ok(err instanceof AgentError);
    assert.equal(err.kind, 'spool-corrupt');
    assert.equal(err.cause, cause);
  });

  it('puts small transactions committed in one turn into one append ending at the last commit', async () => {
    const h = harness();
    h.tx(0x3000n, 0x3010n, 801, ordersRelation(), insert(1), insert(2));
    h.tx(0x3020n, 0x3030n, 802, pgoutput.update(ORDERS, ['1', 'changed']));
    h.tx(0x3040n, 0x3050n, 803, itemsRelation(), pgoutput.insert(ITEMS, ['sku-9', '1']), pgoutput.delete(ORDERS, 'K', ['2', null]));
    assert.equal(h.buffer.appends.length, 0, 'small transactions wait for the end of the turn');
    await tick();
    assert.equal(h.buffer.appends.length, 1);
    const a = h.buffer.at(0);
    assert.equal(a.endsTransactionAt, 0x3050n);
    assert.deepEqual(
      a.schemaVersions.map((v) => [v.tableKey, v.version]),
      [
        ['public.orders', 1],
        ['shop.items', 1],
      ],
    );

    const batch = decodeBatch(a);
    assert.equal(batch.commitBoundary, true);
    assert.equal(batch.sourcePosition, 0x3050n);
    assert.deepEqual(
      batch.schemas.map((s) => [s.schema, s.table, s.version, s.columns.map((c) => [c.name, c.kind, c.key])]),
      [
        ['public', 'orders', 1, [['id', ValueKind.INT32, true], ['note', ValueKind.TEXT, false]]],
        ['shop', 'items', 1, [['sku', ValueKind.TEXT, true], ['order_id', ValueKind.INT32, false]]],
      ],
      'each table schema once, before the events (the second orders transaction does not repeat it)',
    );
    assert.deepEqual(
      batch.events.map((e) => [e.commitPosition, e.indexInTx, e.op, e.schema, e.table, e.schemaVersion, e.txid]),
      [
        [0x3000n, 0, Op.INSERT, 'public', 'orders', 1, 801n],
        [0x3000n, 1, Op.INSERT, 'public', 'orders', 1, 801n],
        [0x3020n, 0, Op.UPDATE, 'public', 'orders', 1, 802n],
        [0x3040n, 0, Op.INSERT, 'shop', 'items', 1, 803n],
        [0x3040n, 1, Op.DELETE, 'public', 'orders', 1, 803n],
      ],
    );
    assert.equal(batch.events[0]?.commitTimeUs, T0 + 801n);
    assert.deepEqual(row(batch.events[1]?.after ?? new Uint8Array()), [2n, 'n2']);
    assert.deepEqual(row(batch.events[3]?.key ?? new Uint8Array()), ['sku-9']);

    // A later batch in the same run does not resend the schema either.
    h.tx(0x3060n, 0x3070n, 804, insert(3));
    await tick();
    const next = decodeBatch(h.buffer.at(1));
    assert.equal(next.schemas.length, 0);
    assert.equal(next.events.length, 1);
    assert.deepEqual(h.buffer.at(1).schemaVersions, []);

    h.buffer.at(0).resolve();
    h.buffer.at(1).resolve();
    await tick();
    assert.deepEqual(h.sink.confirms, [0x3050n, 0x3070n]);
  });

  it('spools a large transaction in pieces before its commit, after the completed transactions pending before it', async () => {
    const h = harness({ batchEvents: 3 });
    // A small completed transaction still waiting for the end of the turn...
    h.tx(0x4000n, 0x4010n, 900, ordersRelation(), insert(100));
    assert.equal(h.buffer.appends.length, 0);
    // ...then a large one that overflows the batch size.
    h.feed(pgoutput.begin(0x5000n, T0, 901));
    for (let i = 1; i <= 10; i++) h.feed(insert(i));

    assert.deepEqual(
      h.buffer.appends.map((a) => a.endsTransactionAt),
      [0x4010n, null, null, null],
      'the pending transaction first with its own boundary, then three partial batches before the commit',
    );
    const first = decodeBatch(h.buffer.at(0));
    assert.equal(first.commitBoundary, true);
    assert.deepEqual(
      first.events.map((e) => [e.commitPosition, e.txid]),
      [[0x4000n, 900n]],
    );
    const partials = [1, 2, 3].map((i) => decodeBatch(h.buffer.at(i)));
    for (const p of partials) {
      assert.equal(p.commitBoundary, false);
      assert.equal(p.sourcePosition, 0x4010n, 'a partial batch claims only the last complete commit');
    }
    assert.deepEqual(
      partials.flatMap((p) => p.events.map((e) => [e.commitPosition, e.indexInTx])),
      Array.from({ length: 9 }, (_, i) => [0x5000n, i]),
    );
    for (const i of [1, 2, 3]) assert.deepEqual(h.buffer.at(i).schemaVersions, []);

    for (const a of h.buffer.appends) a.resolve();
    await tick();
    assert.deepEqual(h.sink.confirms, [0x4010n], 'partial batches confirm nothing');

    h.feed(pgoutput.commit(0x5000n, 0x5100n, T0));
    await tick();
    assert.equal(h.buffer.appends.length, 5);
    const last = h.buffer.at(4);
    assert.equal(last.endsTransactionAt, 0x5100n);
    const lastBatch = decodeBatch(last);
    assert.equal(lastBatch.commitBoundary, true);
    assert.deepEqual(
      lastBatch.events.map((e) => [e.commitPosition, e.indexInTx]),
      [[0x5000n, 9]],
    );
    await tick();
    assert.deepEqual(h.sink.confirms, [0x4010n], 'no confirm until the final batch is durable');
    last.resolve();
    await tick();
    assert.deepEqual(h.sink.confirms, [0x4010n, 0x5100n]);
  });

  it('cuts the pieces of a large transaction by bytes too (spool.batchBytes), whatever batchEvents allows', async () => {
    const h = harness({ batchEvents: 1000, batchBytes: 1000 });
    h.tx(0x4000n, 0x4010n, 900, ordersRelation(), insert(100));
    h.feed(pgoutput.begin(0x5000n, T0, 901));
    // Events of ~270 bytes: a piece is cut at the first event that takes it to 1000 bytes.
    for (let i = 1; i <= 10; i++) h.feed(insert(i, 'x'.repeat(230)));
    h.feed(pgoutput.commit(0x5000n, 0x5100n, T0));
    await tick();
    for (const a of h.buffer.appends) a.resolve();
    await tick();
    const pieces = h.buffer.appends.slice(1).map((a) => ({ boundary: a.endsTransactionAt, bytes: a.body.length, events: decodeBatch(a).events }));
    assert.deepEqual(
      pieces.map((p) => p.events.length),
      [4, 4, 2],
      'pieces of four ~270-byte events, the rest with the commit',
    );
    assert.deepEqual(
      pieces.map((p) => p.boundary),
      [null, null, 0x5100n],
    );
    for (const p of pieces.slice(0, -1)) assert.ok(p.bytes >= 1000 && p.bytes < 1000 + 300, `a piece of ${p.bytes} bytes`);
    assert.deepEqual(
      pieces.flatMap((p) => p.events.map((e) => e.indexInTx)),
      Array.from({ length: 10 }, (_, i) => i),
    );
    assert.deepEqual(h.sink.confirms, [0x4010n, 0x5100n]);
  });

  it('ends an exactly divisible large transaction with an empty boundary batch', async () => {
    const h = harness({ batchEvents: 3 });
    h.feed(pgoutput.begin(0x5200n, T0, 902), ordersRelation());
    for (let i = 1; i <= 6; i++) h.feed(insert(i));
    assert.deepEqual(
      h.buffer.appends.map((a) => a.endsTransactionAt),
      [null, null],
    );
    h.feed(pgoutput.commit(0x5200n, 0x5280n, T0));
    await tick();
    assert.equal(h.buffer.appends.length, 3);
    const last = h.buffer.at(2);
    assert.equal(last.endsTransactionAt, 0x5280n);
    assert.equal(decodeBatch(last).events.length, 0);
    assert.equal(decodeBatch(last).commitBoundary, true);
    assert.deepEqual(
      last.schemaVersions.map((v) => [v.tableKey, v.version]),
      [['public.orders', 1]],
      'the version record travels with the batch that ends the transaction',
    );
    for (const a of h.buffer.appends) a.resolve();
    await tick();
    assert.deepEqual(h.sink.confirms, [0x5280n]);
  });

  it('drops transactions the spool already holds and captures the first one at or after its position', async () => {
    const h = harness({ committedPosition: 0x6000n });
    // Resent after a restart: below the spool's committed end.
    h.tx(0x5f00n, 0x5f80n, 1000, ordersRelation(), insert(1), insert(2));
    h.tx(0x5f90n, 0x5fa0n, 1001, insert(3));
    await tick();
    assert.equal(h.buffer.appends.length, 0);
    assert.equal(h.capture.eventsCaptured, 0);
    assert.equal(h.capture.idle, true);
    assert.deepEqual(h.sink.confirms, []);
    const dropLines = h.lines.filter((l) => l.includes('dropping transactions the spool already holds'));
    assert.equal(dropLines.length, 1, 'logged once, not once per transaction');

    // New: its commit record starts at the spool's end. The relation came in the dropped transaction.
    h.tx(0x6000n, 0x6040n, 1002, insert(4));
    await tick();
    assert.equal(h.buffer.appends.length, 1);
    const batch = decodeBatch(h.buffer.at(0));
    assert.deepEqual(
      batch.events.map((e) => [e.commitPosition, e.indexInTx, e.txid]),
      [[0x6000n, 0, 1002n]],
    );
    assert.deepEqual(row(batch.events[0]?.after ?? new Uint8Array()), [4n, 'n4']);
    assert.equal(batch.schemas.length, 1, 'the schema learnt in a dropped transaction is sent with the first captured event');
    assert.equal(h.capture.eventsCaptured, 1);
    h.buffer.at(0).resolve();
    await tick();
    assert.deepEqual(h.sink.confirms, [0x6040n]);
  });

  it('pauses the source as soon as the spool reports full, and resumes only when it has room', async () => {
    const h = harness();
    h.buffer.full = true;
    h.tx(0x7000n, 0x7040n, 1100, ordersRelation(), insert(1));
    await tick();
    const a = h.buffer.at(0);
    assert.equal(a.settled, false);
    assert.deepEqual(h.sink.calls, [{ call: 'pause' }], 'paused before the append resolves');
    assert.equal(h.capture.backPressure, true);
    assert.equal(h.capture.idle, false);
    assert.equal(h.buffer.roomWaiting, 1);
    assert.ok(h.lines.some((l) => l.includes('spool is full')));

    a.resolve();
    await tick();
    assert.deepEqual(h.sink.confirms, [0x7040n]);
    assert.equal(h.sink.count('resume'), 0, 'a landed append does not resume a full spool');
    assert.equal(h.capture.idle, false, 'not idle while paused');

    h.buffer.full = false;
    await tick();
    assert.equal(h.sink.count('resume'), 0, 'still waiting for waitForRoom');
    assert.equal(h.capture.idle, false);

    h.buffer.room();
    await tick();
    assert.equal(h.sink.count('resume'), 1);
    assert.equal(h.sink.count('pause'), 1);
    assert.equal(h.capture.backPressure, false);
    assert.equal(h.capture.idle, true);
  });

  it('is idle only with no open transaction, nothing pending and nothing in flight', async () => {
    const h = harness({ batchEvents: 2 });
    assert.equal(h.capture.idle, true);
    h.feed(pgoutput.begin(0x8000n, T0, 1200));
    assert.equal(h.capture.idle, false, 'open transaction');
    h.feed(ordersRelation(), insert(1));
    assert.equal(h.capture.idle, false);
    h.feed(insert(2));
    assert.equal(h.buffer.appends.length, 1, 'a partial batch');
    h.buffer.at(0).resolve();
    await tick();
    assert.equal(h.capture.idle, false, 'partial batch durable but the transaction is still open');
    h.feed(pgoutput.commit(0x8000n, 0x8040n, T0));
    assert.equal(h.capture.idle, false, 'committed, flush pending');
    await tick();
    assert.equal(h.buffer.appends.length, 2);
    assert.equal(h.capture.idle, false, 'append in flight');
    h.buffer.at(1).resolve();
    await tick();
    assert.equal(h.capture.idle, true);
  });

  it('asks for the missing values of a changed table (not a new one) and sends them with the version, from its place in the transaction', async () => {
    const h = harness();
    h.tx(0x9000n, 0x9010n, 1300, ordersRelation(), insert(1));
    assert.equal(h.capture.takeLookup(), null, 'a new table needs no lookup');
    await tick();
    h.feed(pgoutput.begin(0x9040n, T0, 1302), insert(2), ordersRelation(ORDERS_COLUMNS_V2));
    const need = h.capture.takeLookup();
    assert.deepEqual(need, { relationId: ORDERS, tableKey: 'public.orders' });
    assert.equal(h.capture.takeLookup(), null, 'asked once');
    h.capture.setMissing(ORDERS, new Map([['qty', '42']]));
    h.feed(pgoutput.insert(ORDERS, ['3', 'c', '7']), pgoutput.commit(0x9040n, 0x9050n, T0));
    await tick();
    const batch = decodeBatch(h.buffer.at(1));
    const v2 = batch.schemas[0];
    assert.equal(v2?.sincePosition, 0x9040n);
    assert.equal(v2?.sinceIndex, 1, 'the version starts after the row before the DDL');
    assert.deepEqual(row(v2?.columns.find((c) => c.name === 'qty')?.missingValue ?? new Uint8Array()), [42n]);
    assert.equal(v2?.columns.find((c) => c.name === 'note')?.missingValue.length, 0);
  });

  it('assigns schema versions: a changed Relation bumps the version, an identical one keeps it', async () => {
    const h = harness();
    h.tx(0x9000n, 0x9010n, 1300, ordersRelation(), insert(1));
    await tick();
    const v1 = h.buffer.at(0).schemaVersions;
    assert.deepEqual(
      v1.map((v) => [v.tableKey, v.version]),
      [['public.orders', 1]],
    );

    h.tx(0x9020n, 0x9030n, 1301, ordersRelation(), insert(2));
    await tick();
    assert.deepEqual(h.buffer.at(1).schemaVersions, [], 'an identical Relation is not a new version');
    const same = decodeBatch(h.buffer.at(1));
    assert.equal(same.schemas.length, 0);
    assert.equal(same.events[0]?.schemaVersion, 1);

    h.tx(0x9040n, 0x9050n, 1302, ordersRelation(ORDERS_COLUMNS_V2), pgoutput.insert(ORDERS, ['3', 'c', '7']));
    await tick();
    const a3 = h.buffer.at(2);
    assert.equal(a3.endsTransactionAt, 0x9050n);
    assert.deepEqual(
      a3.schemaVersions.map((v) => [v.tableKey, v.version]),
      [['public.orders', 2]],
    );
    assert.notEqual(a3.schemaVersions[0]?.fingerprint, v1[0]?.fingerprint);
    const changed = decodeBatch(a3);
    assert.deepEqual(
      changed.schemas.map((s) => [s.version, s.sincePosition, s.columns.map((c) => c.name)]),
      [[2, 0x9040n, ['id', 'note', 'qty']]],
    );
    assert.equal(changed.events[0]?.schemaVersion, 2);
    assert.deepEqual(row(changed.events[0]?.after ?? new Uint8Array()), [3n, 'c', 7n]);

    // After a restart the numbering continues from what the spool recorded.
    const v2 = a3.schemaVersions[0];
    assert.ok(v2);
    const r = harness({ versions: [v2] });
    r.tx(0xa000n, 0xa010n, 1400, ordersRelation(ORDERS_COLUMNS_V2), pgoutput.insert(ORDERS, ['4', 'd', '8']));
    r.tx(0xa020n, 0xa030n, 1401, ordersRelation(), insert(5));
    await tick();
    const restarted = r.buffer.at(0);
    assert.deepEqual(
      restarted.schemaVersions.map((v) => [v.tableKey, v.version]),
      [['public.orders', 3]],
      'v2 is known to the spool; only the changed shape gets a record, as v3',
    );
    assert.deepEqual(
      decodeBatch(restarted).events.map((e) => e.schemaVersion),
      [2, 3],
    );
  });

  it('carries before images, delete keys, truncates per relation and unchanged TOAST values', async () => {
    const h = harness();
    h.tx(
      0xb000n,
      0xb040n,
      1500,
      ordersRelation(),
      itemsRelation(),
      // Key change: old key sent as 'K' (non-key columns null).
      pgoutput.update(ORDERS, ['2', UNCHANGED_TOAST], { kind: 'K', row: ['1', null] }),
      // No key change, no old tuple.
      pgoutput.update(ORDERS, ['2', 'again']),
      pgoutput.delete(ORDERS, 'K', ['2', null]),
      pgoutput.truncate([ORDERS, ITEMS]),
    );
    await tick();
    const events = decodeBatch(h.buffer.at(0)).events;
    assert.deepEqual(
      events.map((e) => [e.op, e.table, e.indexInTx]),
      [
        [Op.UPDATE, 'orders', 0],
        [Op.UPDATE, 'orders', 1],
        [Op.DELETE, 'orders', 2],
        [Op.TRUNCATE, 'orders', 3],
        [Op.TRUNCATE, 'items', 4],
      ],
    );
    const [keyChange, plain, del, t1, t2] = events;
    assert.ok(keyChange && plain && del && t1 && t2);

    assert.deepEqual(row(keyChange.key), [2n], 'key of the new row');
    assert.deepEqual(row(keyChange.before), [1n, UNCHANGED], 'the old key travels in before; columns the server did not send are marked unchanged, not NULL');
    const after = row(keyChange.after);
    assert.equal(after[0], 2n);
    assert.equal(after[1], UNCHANGED, 'unchanged TOAST is not NULL');

    assert.equal(plain.before.length, 0);
    assert.deepEqual(row(plain.after), [2n, 'again']);

    assert.deepEqual(row(del.key), [2n]);
    assert.equal(del.after.length, 0);

    for (const t of [t1, t2]) {
      assert.equal(t.key.length, 0);
      assert.equal(t.before.length, 0);
      assert.equal(t.after.length, 0);
      assert.equal(t.commitPosition, 0xb000n);
    }
    assert.equal(t2.schema, 'shop');
  });

  it('drain() resolves only after every append has settled', async () => {
    const h = harness({ batchEvents: 2 });
    h.feed(pgoutput.begin(0xc000n, T0, 1600), ordersRelation(), insert(1), insert(2)); // partial append #1
    h.feed(insert(3), pgoutput.commit(0xc000n, 0xc040n, T0));
    await tick(); // final append #2
    assert.equal(h.buffer.appends.length, 2);

    let drained = false;
    const drain = h.capture.drain().then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 15));
    assert.equal(drained, false);
    h.buffer.at(0).resolve();
    await new Promise((r) => setTimeout(r, 15));
    assert.equal(drained, false, 'one append still in flight');
    h.buffer.at(1).reject(new Error('disk gone'));
    await drain;
    assert.equal(drained, true, 'a rejected append counts as settled');
    assert.equal(h.capture.error?.kind, 'spool-corrupt');
  });

  it('is not idle after a failed append', async () => {
    const h = harness();
    h.tx(0xd000n, 0xd040n, 1700, ordersRelation(), insert(1));
    await tick();
    h.buffer.at(0).reject(new Error('EIO'));
    await tick();
    assert.ok(h.capture.error);
    assert.equal(h.capture.idle, false, 'a keepalive position must not be confirmed past a transaction that never reached the spool');
  });

  it('confirms nothing after an earlier append failed', async () => {
    const h = harness({ batchEvents: 2 });
    h.feed(pgoutput.begin(0xe000n, T0, 1800), ordersRelation(), insert(1), insert(2)); // partial append #1
    h.feed(insert(3), pgoutput.commit(0xe000n, 0xe040n, T0));
    await tick(); // final append #2
    assert.equal(h.buffer.appends.length, 2);
    h.buffer.at(0).reject(new Error('EIO'));
    await tick();
    h.buffer.at(1).resolve();
    await tick();
    assert.equal(h.capture.error?.kind, 'spool-corrupt');
    assert.deepEqual(h.sink.confirms, [], 'events 0 and 1 of the transaction are not in the spool');
  });

  it('drain() waits for a commit whose flush is still scheduled', async () => {
    const h = harness();
    h.tx(0xf000n, 0xf040n, 1900, ordersRelation(), insert(1));
    let atDrain: { appends: number; allSettled: boolean } | null = null;
    const drain = h.capture.drain().then(() => {
      atDrain = { appends: h.buffer.appends.length, allSettled: h.buffer.appends.every((a) => a.settled) };
    });
    await tick();
    for (const a of h.buffer.appends) if (!a.settled) a.resolve();
    await drain;
    assert.deepEqual(atDrain, { appends: 1, allSettled: true }, 'the committed transaction is in the spool when drain() resolves');
  });
});

describe('Capture with snapshots', () => {
  const relation: RelationMessage = {
    tag: 'relation',
    relationId: ORDERS,
    namespace: 'public',
    name: 'orders',
    replicaIdentity: 'd',
    columns: [
      { key: true, name: 'id', typeOid: 23, typeMod: -1 },
      { key: false, name: 'note', typeOid: 25, typeMod: -1 },
    ],
  };
  const record = (c: Chunk<PgChunkMeta>): SnapshotRecord => ({ table: 'public.orders', state: 'running', lastKey: c.lastKey, rowsDone: c.rows.length, rowsEstimate: 0, chunksDone: 1, startedAt: '', updatedAt: '' });
  const chunkRow = { key: Uint8Array.of(1, 2, 3), after: Uint8Array.of(4, 5, 6) };

  function setup(): { h: Omit<Harness, 'capture'> & { capture: Capture }; windows: WindowRegistry<PgChunkMeta>; feed: (...m: ByteBuilder[]) => void } {
    const buffer = new FaultyBuffer();
    const sink = new RecordingSink();
    const windows = new WindowRegistry<PgChunkMeta>();
    const capture = new Capture(buffer, catalog, sink, createLogger('error', {}, () => undefined), { events: 1000, bytes: 4 << 20 }, new AbortController().signal, undefined, { hooks: windows, signalTable: null });
    const feed = (...messages: ByteBuilder[]): void => {
      for (const m of messages) capture.handle(decodePgOutput(m.build()));
    };
    const tx = (finalLsn: bigint, endLsn: bigint, xid: number, ...body: ByteBuilder[]): void => feed(pgoutput.begin(finalLsn, T0, xid), ...body, pgoutput.commit(finalLsn, endLsn, T0));
    return { h: { buffer, sink, capture, lines: [], feed, tx }, windows, feed };
  }
  const mark = (id: string): ByteBuilder => pgoutput.message(true, 0x10n, WATERMARK_PREFIX, new TextEncoder().encode(id));

  it('writes the surviving chunk rows as READ events in the high watermark transaction, with the record, then reports them durable', async () => {
    const { h, windows } = setup();
    const w = windows.open('public.orders', record);
    h.tx(0x100n, 0x180n, 501, mark(w.lowId));
    w.window.setChunk({ rows: rowList([chunkRow]), lastKey: ['1'], meta: { relation, inProgress: [999] } });
    h.tx(0x200n, 0x280n, 502, mark(w.highId));
    await tick();
    const a = h.buffer.at(h.buffer.appends.length - 1);
    const batch = decodeBatch(a);
    assert.deepEqual(batch.events.map((e) => [e.op, e.commitPosition, e.table]), [[Op.READ, 0x200n, 'orders']]);
    assert.equal(batch.schemas[0]?.table, 'orders', 'the schema travels with the first rows of a table the stream has not shown yet');
    let done = false;
    void w.done.then(() => (done = true));
    await tick();
    assert.equal(done, false, 'not done before the spool write is durable');
    a.resolve();
    await tick();
    await tick();
    assert.equal(done, true);
  });

  it('reads the chunk again when a transaction the log committed before the low watermark was invisible to its SELECT', async () => {
    const { h, windows } = setup();
    const w = windows.open('public.orders', record);
    h.tx(0x100n, 0x180n, 500, ordersRelation(), insert(1));
    h.tx(0x200n, 0x280n, 501, mark(w.lowId));
    w.window.setChunk({ rows: rowList([chunkRow]), lastKey: ['1'], meta: { relation, inProgress: [500] } });
    h.tx(0x300n, 0x380n, 502, mark(w.highId));
    await assert.rejects(w.done, /transaction 500 committed before the low watermark/);
  });
});
