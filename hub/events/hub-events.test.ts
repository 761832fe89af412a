import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../log.js';
import { HubEvents, type HubEvent } from './hub-events.js';

const quiet = createLogger('error', {}, () => undefined);
const base = { workspace: 'default', severity: 'info', message: 'm', data: {} } as const;

test('subscribers get events in order; a throwing one does not stop the others', () => {
  const bus = new HubEvents(quiet);
  const got: string[] = [];
  bus.subscribe(() => {
    throw new Error('broken listener');
  });
  const off = bus.subscribe((e) => got.push(e.kind));
  bus.publish({ ...base, kind: 'schema.changed' });
  off();
  bus.publish({ ...base, kind: 'snapshot.finished' });
  assert.deepEqual(got, ['schema.changed']);
});

test('recent is newest first, per workspace and kind prefix, and bounded', () => {
  const bus = new HubEvents(quiet, 3);
  const ids: HubEvent[] = [];
  for (const [ws, kind] of [['a', 'agent.x'], ['b', 'agent.y'], ['a', 'schema.changed'], ['a', 'agent.z']] as const) ids.push(bus.publish({ ...base, workspace: ws, kind }));
  assert.deepEqual(bus.recent('a').map((e) => e.kind), ['agent.z', 'schema.changed']);
  assert.deepEqual(bus.recent('a', 'agent.').map((e) => e.kind), ['agent.z']);
  assert.deepEqual(bus.recent('b').map((e) => e.kind), ['agent.y']);
  assert.ok(ids.every((e) => typeof e.id === 'string' && !Number.isNaN(Date.parse(e.at))));
});
