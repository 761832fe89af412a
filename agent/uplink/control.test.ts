import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { CommandSchema, type AgentEvent } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { createLogger } from '../log.js';
import { AgentControl, CommandError } from './control.js';

const quiet = createLogger('error', {}, () => undefined);
const json = (e: AgentEvent): unknown => JSON.parse(Buffer.from(e.payload).toString('utf8'));
const command = (kind: string, payload: string, id = 'c1') => create(CommandSchema, { id, kind, payload: Buffer.from(payload) });

test('a handled command is answered with its result and the command id', async () => {
  const control = new AgentControl(quiet);
  const sent: AgentEvent[] = [];
  control.attach((e) => sent.push(e));
  control.handle('snapshot.start', async (p) => ({ started: (p as { table: string }).table }));
  await control.dispatch(command('snapshot.start', '{"table":"public.orders"}', 'abc'));
  assert.equal(sent.length, 1);
  assert.equal(sent[0]?.kind, 'command.result');
  assert.equal(sent[0]?.commandId, 'abc');
  assert.deepEqual(json(sent[0]!), { id: 'abc', kind: 'snapshot.start', ok: true, result: { started: 'public.orders' } });
});

test('unknown kinds, bad payloads and failing handlers answer with stable codes', async () => {
  const control = new AgentControl(quiet);
  const sent: AgentEvent[] = [];
  control.attach((e) => sent.push(e));
  control.handle('a.fails', async () => {
    throw new CommandError('NO_SUCH_TABLE', 'table x.y is not captured');
  });
  control.handle('a.crashes', async () => {
    throw new Error('boom');
  });
  await control.dispatch(command('nobody.handles', '{}'));
  await control.dispatch(command('a.fails', '{not json'));
  await control.dispatch(command('a.fails', '{}'));
  await control.dispatch(command('a.crashes', ''));
  const codes = sent.map((e) => (json(e) as { error: { code: string } }).error.code);
  assert.deepEqual(codes, ['UNKNOWN_COMMAND', 'BAD_PAYLOAD', 'NO_SUCH_TABLE', 'COMMAND_FAILED']);
});

test('events queue while detached, bounded, and drain in order on attach', () => {
  const control = new AgentControl(quiet, 3);
  for (let i = 0; i < 5; i++) assert.equal(control.emit('snapshot.progress', { i }), true);
  assert.equal(control.dropped, 2);
  const sent: AgentEvent[] = [];
  control.attach((e) => sent.push(e));
  assert.deepEqual(sent.map((e) => (json(e) as { i: number }).i), [2, 3, 4]);
  control.detach();
  control.emit('x', 1);
  assert.equal(sent.length, 3);
});

test('oversized or non-JSON payloads and bad kinds are refused, not sent', () => {
  const control = new AgentControl(quiet);
  const sent: AgentEvent[] = [];
  control.attach((e) => sent.push(e));
  assert.equal(control.emit('big', 'x'.repeat(70_000)), false);
  assert.equal(control.emit('cyclic', ((): unknown => { const o: Record<string, unknown> = {}; o['o'] = o; return o; })()), false);
  assert.throws(() => control.emit('Bad Kind', {}), /must match/);
  assert.equal(sent.length, 0);
});

test('the source user name and password never leave in an event, however they got there', () => {
  const control = new AgentControl(quiet, 10, ['pg', 's3cr.t+']);
  const sent: AgentEvent[] = [];
  control.attach((e) => sent.push(e));
  control.emit('doctor.findings', { message: 'role pg lacks REPLICATION; see pg_replication_slots', fix: 'ALTER ROLE "pg" REPLICATION;', error: 'password s3cr.t+ refused; s3cr.tX kept' });
  assert.deepEqual(json(sent[0]!), { message: 'role [redacted] lacks REPLICATION; see pg_replication_slots', fix: 'ALTER ROLE "[redacted]" REPLICATION;', error: 'password [redacted] refused; s3cr.tX kept' });
});
