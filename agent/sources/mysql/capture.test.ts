/**
 * Capture with snapshot windows, fed hand-built binlog events: read-only
 * high watermarks close only between transactions once the binlog is read up
 * to their position, rows changed inside the window are dropped, and READ
 * events sit strictly between the neighbouring transactions' positions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import type { AnyBinlogEvent } from '@vlasky/zongji';
import { ChangeBatchSchema, Op } from '../../../proto/gen/tributary/v1/change_pb.js';
import { decodeRow, RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import type { ChangeBuffer, SchemaVersionRecord } from '../../buffer/change-buffer.js';
import { createLogger } from '../../log.js';
import { rowList } from '../../snapshot/chunk-rows.js';
import type { SnapshotRecord } from '../../snapshot/snapshot-record.js';
import { WindowRegistry } from '../../snapshot/windows.js';
import { Capture } from './capture.js';
import { RowConverter } from './convert.js';
import { commitPosition } from './position.js';
import type { MySqlChunkMeta } from './snapshot.js';
import { shapeFingerprint } from './table-map.js';
import { MySqlType, valueKind } from './types.js';

/** zongji events are class instances named by their class (eventName caches by constructor). */
const ev = (name: string) =>
  class {
    constructor(fields: Record<string, unknown>) {
      Object.assign(this, fields);
    }
    getEventName(): string {
      return name;
    }
    getTypeName(): string {
      return name;
    }
  };
const Rotate = ev('rotate');
const Gtid = ev('mariadbgtid');
const TableMap = ev('tablemap');
const WriteRows = ev('writerows');
const UpdateRows = ev('updaterows');
const Xid = ev('xid');
const event = (E: ReturnType<typeof ev>, f: Record<string, unknown>): AnyBinlogEvent => new E(f) as unknown as AnyBinlogEvent;

const FILE = 'binlog.000003';
const columns = [
  { name: 'id', type: MySqlType.LONG, unsigned: false, text: false, sourceType: 'int', kind: valueKind('shop.t', 'id', MySqlType.LONG, false, false) },
  { name: 'v', type: MySqlType.VARCHAR, unsigned: false, text: true, sourceType: 'varchar(10)', kind: valueKind('shop.t', 'v', MySqlType.VARCHAR, false, true) },
];
const entry = {
  parentSchema: 'shop',
  tableName: 't',
  columns: columns.map((c) => ({ name: c.name, type: c.type, charset: c.text ? 'utf8mb4' : null })),
  columnSchemas: columns.map((c) => ({ COLUMN_TYPE: c.sourceType, UNSIGNED: false })),
};

/** An in-memory spool: the batches appended, decoded. */
function memoryBuffer(): { buffer: ChangeBuffer; events: () => { op: Op; position: bigint; id: number }[]; records: SnapshotRecord[] } {
  const bodies: Uint8Array[] = [];
  const records: SnapshotRecord[] = [];
  const versions = new Map<string, SchemaVersionRecord>();
  const buffer = {
    state: () => ({ firstSequence: 1, committedSequence: 0, committedPosition: 0n, sourceState: null, ackedSequence: 0, bytes: 0, maxBytes: 1 << 30 }),
    append: (body: Uint8Array, _end: bigint | null, vs: readonly SchemaVersionRecord[] = [], _s?: string, snaps: readonly SnapshotRecord[] = []) => {
      bodies.push(body);
      for (const v of vs) versions.set(v.tableKey, v);
      records.push(...snaps);
      return Promise.resolve(bodies.length);
    },
    schemaVersion: (k: string) => versions.get(k),
    isFull: () => false,
  } as unknown as ChangeBuffer;
  const events = () =>
    bodies.flatMap((b) => fromBinary(ChangeBatchSchema, b).events.map((e) => ({ op: e.op, position: e.commitPosition, id: Number(decodeRow(e.key)[0]) })));
  return { buffer, events, records };
}

function setup() {
  const mem = memoryBuffer();
  const windows = new WindowRegistry<MySqlChunkMeta>();
  const capture = new Capture({
    buffer: mem.buffer,
    target: { confirm: () => undefined, pause: () => undefined, resume: () => undefined, stop: () => undefined },
    log: createLogger('error', {}, () => undefined),
    batchLimit: { events: 1000, bytes: 4 << 20 },
    zeroDates: 'null',
    signal: new AbortController().signal,
    start: { gtid: null, file: FILE, pos: 4 },
    mysqlGtidSet: () => undefined,
    snapshots: { hooks: windows, signalTable: null },
  });
  capture.handle(event(Rotate, { binlogName: FILE, position: 4, nextPosition: 0 }));
  let seq = 0;
  /** One transaction of `rows` on shop.t, its GTID event ending at `at`. */
  const tx = (at: number, rows: { id: number; v: string }[], op: 'insert' | 'update' = 'insert'): void => {
    capture.handle(event(Gtid, { domainId: 0, serverId: 1, seqNo: ++seq, standalone: false, nextPosition: at, timestamp: 1000 }));
    capture.handle(event(TableMap, { tableId: 7, tableMap: { 7: entry }, primaryKey: [0], nextPosition: at + 50 }));
    const image = op === 'insert' ? rows : rows.map((r) => ({ before: { ...r, v: 'old' }, after: r }));
    capture.handle(event(op === 'insert' ? WriteRows : UpdateRows, { tableId: 7, rows: image, nextPosition: at + 100 }));
    capture.handle(event(Xid, { nextPosition: at + 131 }));
  };
  return { mem, windows, capture, tx };
}

const shape = { db: 'shop', table: 't', tableKey: 'shop.t', columns, keyOrder: [0], fingerprint: shapeFingerprint(columns, [0]), rowsEstimate: 3 };

function chunkOf(ids: number[]) {
  const conv = new RowConverter('shop.t', columns, [0], 'null', () => undefined);
  const w = new RowWriter();
  return {
    rows: rowList(
      ids.map((id) => {
        conv.writeKeyValues([id, `r${id}`], w.reset());
        const key = w.finish();
        conv.writeValues([id, `r${id}`], w.reset());
        return { key, after: w.finish() };
      }),
    ),
    lastKey: [String(ids.at(-1))],
    meta: { shape },
  };
}

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 10));

describe('MySQL capture: read-only snapshot watermarks', () => {
  it('closes at the snapshot position between transactions, dropping rows the binlog changed in the window', async () => {
    const { mem, windows, capture, tx } = setup();
    tx(1000, [{ id: 1, v: 'a' }]);
    const w = windows.open('shop.t', (c, written) => ({ table: 'shop.t', state: 'running', lastKey: c.lastKey, rowsDone: written, rowsEstimate: 3, chunksDone: 1, startedAt: '', updatedAt: '' }));
    capture.low(w.lowId);
    // The SELECT saw the table at the end of the next transaction (offset 2131), which updates row 2.
    tx(2000, [{ id: 2, v: 'b' }], 'update');
    w.window.setChunk(chunkOf([1, 2, 3]));
    const snapshotAt = commitPosition(FILE, 3131);
    capture.high(w.highId, snapshotAt);
    await flush();
    assert.equal(mem.records.length, 0, 'not closed before the binlog is read up to the snapshot position');
    capture.handle(event(Gtid, { domainId: 0, serverId: 1, seqNo: 9, standalone: false, nextPosition: 3000, timestamp: 1000 }));
    capture.handle(event(TableMap, { tableId: 7, tableMap: { 7: entry }, primaryKey: [0], nextPosition: 3050 }));
    capture.handle(event(WriteRows, { tableId: 7, rows: [{ id: 3, v: 'c' }], nextPosition: 3100 }));
    await flush();
    assert.equal(mem.records.length, 0, 'not closed inside a transaction');
    capture.handle(event(Xid, { nextPosition: 3131 }));
    await flush();
    tx(4000, [{ id: 4, v: 'd' }]);
    await flush();
    const outcome = await w.done;
    assert.deepEqual(outcome, { rowsRead: 3, rowsWritten: 1 });
    const events = mem.events();
    const reads = events.filter((e) => e.op === Op.READ);
    assert.deepEqual(reads.map((e) => e.id), [1], 'rows 2 and 3 changed inside the window: the binlog carries them');
    assert.equal(reads[0]!.position, snapshotAt);
    const before = events.filter((e) => e.op !== Op.READ && e.position < snapshotAt).map((e) => e.id);
    const afterIds = events.filter((e) => e.op !== Op.READ && e.position > snapshotAt).map((e) => e.id);
    assert.deepEqual([before, afterIds], [[1, 2, 3], [4]], 'READ rows sit strictly between the transactions around them');
    assert.equal(mem.records[0]?.lastKey?.[0], '3', 'the chunk record is stored with its rows');
  });

  it('closes at once when the capture is already past the snapshot position, with rows changed since dropped', async () => {
    const { mem, windows, capture, tx } = setup();
    const w = windows.open('shop.t', (c) => ({ table: 'shop.t', state: 'running', lastKey: c.lastKey, rowsDone: 0, rowsEstimate: 0, chunksDone: 0, startedAt: '', updatedAt: '' }));
    capture.low(w.lowId);
    tx(1000, [{ id: 5, v: 'x' }]);
    tx(2000, [{ id: 6, v: 'y' }]);
    w.window.setChunk(chunkOf([5, 6, 7]));
    // The snapshot was taken after the first transaction; the capture has read the second too.
    capture.high(w.highId, commitPosition(FILE, 1131));
    assert.deepEqual(await w.done, { rowsRead: 3, rowsWritten: 1 });
    const reads = mem.events().filter((e) => e.op === Op.READ);
    assert.deepEqual(reads.map((e) => [e.id, e.position]), [[7, commitPosition(FILE, 2131)]]);
  });
});
