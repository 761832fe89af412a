import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { CommandSchema, type AgentEvent } from '../../proto/gen/tributary/v1/uplink_pb.js';
import type { ChangeBuffer } from '../buffer/change-buffer.js';
import { createLogger } from '../log.js';
import { AgentControl } from '../uplink/control.js';
import { NO_ROWS } from './chunk-rows.js';
import { progressEmitter, registerSnapshotCommands } from './commands.js';
import { SnapshotEngine } from './engine.js';
import type { SnapshotRecord } from './snapshot-record.js';
import type { Chunk, SnapshotSource, TableInfo } from './snapshot-source.js';

const quiet = createLogger('error', {}, () => undefined);
const json = (e: AgentEvent): Record<string, unknown> => JSON.parse(Buffer.from(e.payload).toString('utf8')) as Record<string, unknown>;
const command = (kind: string, payload: string, id: string) => create(CommandSchema, { id, kind, payload: Buffer.from(payload) });

/** A source whose table is empty: a snapshot finishes at its first chunk. */
const source: SnapshotSource<null> = {
  describe: (table): Promise<TableInfo> => Promise.resolve({ kind: 'keyed', table, keyColumns: ['id'], rowsEstimate: 0 }),
  readChunk: (): Promise<Chunk<null>> => Promise.resolve({ rows: NO_ROWS, lastKey: null, meta: null }),
  writeWatermark: (id) => {
    const em = engine.hooks.watermark(id);
    if (em !== null) void buffer.putSnapshotRecord(em.record).then(() => em.durable());
    return Promise.resolve();
  },
};
const records = new Map<string, SnapshotRecord>();
const buffer = {
  state: () => ({ firstSequence: 1, committedSequence: 0, committedPosition: 0n, ackedSequence: 0, bytes: 0, maxBytes: 1 << 20 }),
  snapshotRecords: () => [...records.values()],
  putSnapshotRecord: (r: SnapshotRecord) => {
    records.set(r.table, r);
    return Promise.resolve();
  },
} as unknown as ChangeBuffer;
const control = new AgentControl(quiet);
const engine = new SnapshotEngine<null>({ source, buffer, log: quiet, settings: { initial: false, chunkRows: 10, maxRowsPerSecond: 0 }, onProgress: progressEmitter(control) });
registerSnapshotCommands(control, engine);

test('snapshot commands on the control channel: start runs it, progress events follow, refusals have stable codes', async () => {
  const sent: AgentEvent[] = [];
  control.attach((e) => sent.push(e));
  const stop = new AbortController();
  const running = engine.run(stop.signal);
  await control.dispatch(command('snapshot.start', '{"table":"public.orders"}', 'c1'));
  const started = sent.find((e) => e.commandId === 'c1');
  assert.deepEqual(started && { ok: json(started)['ok'], state: (json(started)['result'] as { state: string }).state }, { ok: true, state: 'pending' });
  for (let i = 0; i < 200 && records.get('public.orders')?.state !== 'done'; i++) await new Promise((r) => setTimeout(r, 5));
  const progress = sent.filter((e) => e.kind === 'snapshot.progress').map((e) => json(e));
  assert.ok(progress.some((p) => p['state'] === 'running'));
  assert.equal(progress.at(-1)?.['state'], 'done');
  assert.deepEqual(Object.keys(progress.at(-1) ?? {}).sort(), ['chunksDone', 'rowsDone', 'rowsEstimate', 'startedAt', 'state', 'table', 'updatedAt']);

  await control.dispatch(command('snapshot.pause', '{"table":"public.orders"}', 'c2'));
  assert.deepEqual((json(sent.find((e) => e.commandId === 'c2')!)['error'] as { code: string }).code, 'SNAPSHOT_STATE');
  await control.dispatch(command('snapshot.start', '{"table":"orders; drop"}', 'c3'));
  assert.deepEqual((json(sent.find((e) => e.commandId === 'c3')!)['error'] as { code: string }).code, 'BAD_PAYLOAD');
  await control.dispatch(command('snapshot.list', '', 'c4'));
  assert.deepEqual((json(sent.find((e) => e.commandId === 'c4')!)['result'] as Array<{ table: string }>).map((p) => p.table), ['public.orders']);
  stop.abort();
  await running;
});
