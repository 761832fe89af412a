import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { CommandSchema, type AgentEvent } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { TABLE } from '../config.js';
import { AgentError } from '../errors.js';
import { createLogger } from '../log.js';
import { AgentControl } from '../uplink/control.js';
import { registerPipelineApply, type TableControlledSource } from './apply-handler.js';
import { CapturedTables } from './captured-tables.js';
import { initialTables, loadTables } from './tables-file.js';

const quiet = createLogger('error', {}, () => undefined);
const json = (e: AgentEvent): Record<string, unknown> => JSON.parse(Buffer.from(e.payload).toString('utf8')) as Record<string, unknown>;
const command = (payload: unknown, id: string) => create(CommandSchema, { id, kind: 'pipeline.apply', payload: Buffer.from(JSON.stringify(payload)) });

function setup(fail?: AgentError) {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-apply-'));
  const control = new AgentControl(quiet);
  const sent: AgentEvent[] = [];
  control.attach((e) => sent.push(e));
  const applied: string[][] = [];
  const source: TableControlledSource = {
    tables: CapturedTables.fromConfig(['public.orders']),
    async applyTables(p) {
      if (fail !== undefined) throw fail;
      applied.push([...p]);
      this.tables.replace(p);
      return { mode: 'publication' };
    },
  };
  registerPipelineApply({ control, source, dir, pattern: TABLE, log: quiet });
  return { dir, control, sent, source, applied, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

test('pipeline.apply changes the captured set, keeps it beside the spool and answers how', async () => {
  using s = setup();
  assert.equal(s.source.tables.accepts('public', 'customers'), false);
  await s.control.dispatch(command({ tables: ['public.orders', 'billing.*', 'public.orders'] }, 'c1'));
  assert.deepEqual(s.applied, [['billing.*', 'public.orders']]);
  assert.deepEqual(json(s.sent[0]!), { id: 'c1', kind: 'pipeline.apply', ok: true, result: { mode: 'publication', tables: ['billing.*', 'public.orders'], added: ['billing.*'] } });
  assert.equal(s.source.tables.accepts('billing', 'invoices'), true);
  assert.equal(s.source.tables.accepts('public', 'customers'), false);
  // a restart starts from the applied set, not the configuration's
  assert.deepEqual(loadTables(s.dir)?.tables, ['billing.*', 'public.orders']);
  assert.deepEqual(initialTables(s.dir, ['public.orders']).current, { all: false, patterns: ['billing.*', 'public.orders'] });
  assert.deepEqual(readdirSync(s.dir), ['pipeline-tables.json']);
  // an empty list captures nothing (it is not "every table" as in the configuration)
  await s.control.dispatch(command({ tables: [] }, 'c2'));
  assert.equal(s.source.tables.accepts('public', 'orders'), false);
});

test('bad payloads are refused by field and change nothing', async () => {
  using s = setup();
  for (const [payload, field] of [
    [{ tables: 'public.*' }, 'tables'],
    [{ tables: ['public.orders', 'no_dot'] }, 'tables[1]'],
    [{ tables: ['public.orders; DROP TABLE x'] }, 'tables[0]'],
    [{ tables: [], extra: 1 }, 'unknown field'],
    [[], 'expected'],
  ] as const) {
    await s.control.dispatch(command(payload, 'x'));
    const answer = json(s.sent.pop()!) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(answer.ok, false);
    assert.equal(answer.error.code, 'BAD_PAYLOAD');
    assert.ok(answer.error.message.startsWith(field), answer.error.message);
  }
  assert.deepEqual(s.applied, []);
  assert.equal(loadTables(s.dir), null);
});

test('a source failure answers with its classification and keeps the old set', async () => {
  using s = setup(new AgentError('source-misconfigured', 'PostgreSQL rejected the replication setup (SQLSTATE 42P01): relation "public.nope" does not exist'));
  await s.control.dispatch(command({ tables: ['public.nope'] }, 'c3'));
  const answer = json(s.sent[0]!) as { ok: boolean; error: { code: string; message: string } };
  assert.equal(answer.error.code, 'SOURCE_MISCONFIGURED');
  assert.match(answer.error.message, /42P01/);
  assert.equal(s.source.tables.accepts('public', 'orders'), true);
  assert.equal(loadTables(s.dir), null);
});
