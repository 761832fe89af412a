import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HubEvents } from '../events/hub-events.js';
import { createLogger } from '../log.js';
import { PipelinePush, type ConnectedSession } from './agent-push.js';
import { PipelineRegistry } from './pipeline-registry.js';

const quiet = createLogger('error', {}, () => undefined);
const until = async (what: string, ok: () => boolean): Promise<void> => {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('pushes the union of a source\'s pipeline tables on changes and on (re)connect, and keeps the agent\'s answer', async () => {
  const registry = PipelineRegistry.inMemory([{ name: 'orders', workspace: 'default', agent: 'edge', source: 'db', sinks: [], tables: ['public.orders'] }]);
  const events = new HubEvents(quiet);
  const sent: Array<{ key: string; kind: string; payload: unknown; id: string }> = [];
  let up = false;
  const sessions = new Map<string, ConnectedSession>();
  const channel = {
    sendCommand: (key: string, kind: string, payload: unknown): string | null => {
      if (!up) return null;
      const id = `c${sent.length + 1}`;
      sent.push({ key, kind, payload, id });
      return id;
    },
  };
  const push = new PipelinePush(registry, channel, () => sessions, quiet, 200);
  const stop = push.start(events, 10);
  const answer = (id: string, ok: boolean, result: unknown, error?: unknown): void => {
    events.publish({ kind: 'agent.command.result', workspace: 'default', source: 'edge/db', severity: 'info', message: '', data: { payload: { id, kind: 'pipeline.apply', ok, result, error }, commandId: id, agentTimeUs: 0 } });
  };
  try {
    // Not connected: it waits, then is sent as soon as the stream is up.
    await registry.create('default', 'billing', { agent: 'edge', source: 'db', sinks: [], tables: ['billing.*'] }, () => undefined);
    assert.equal(push.state('edge/db')?.status, 'not-connected');
    up = true;
    sessions.set('edge/db', { connected: true, connectedAt: new Date(1000) });
    await until('the push on connect', () => sent.length === 1);
    assert.deepEqual(sent[0], { key: 'edge/db', kind: 'pipeline.apply', payload: { tables: ['billing.*', 'public.orders'] }, id: 'c1' });
    assert.equal(push.state('edge/db')?.status, 'pending');
    answer('c1', true, { mode: 'publication', tables: ['billing.*', 'public.orders'], added: ['billing.*', 'public.orders'] });
    assert.equal(push.state('edge/db')?.status, 'applied');
    // Newly included exact tables get their initial load; a pattern names no table.
    assert.deepEqual(sent.slice(1).map((s) => [s.kind, s.payload]), [['snapshot.start', { table: 'public.orders' }]]);
    assert.deepEqual(push.state('edge/db')?.snapshots, ['public.orders']);

    // A pause changes no tables: nothing is sent. A change of tables is.
    await registry.setState('default', 'orders', 'paused', () => new Error('missing'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(sent.length, 2);
    await registry.update('default', 'orders', () => ({ tables: ['public.nope'] }), () => new Error('missing'));
    assert.deepEqual(sent.at(-1)?.payload, { tables: ['billing.*', 'public.nope'] });
    const failedId = sent.at(-1)?.id ?? '';
    answer('stale-id', true, {}); // an answer to an older command changes nothing
    assert.equal(push.state('edge/db')?.status, 'pending');
    answer(failedId, false, null, { code: 'SOURCE_MISCONFIGURED', message: 'relation "public.nope" does not exist' });
    assert.equal(push.state('edge/db')?.status, 'failed');
    assert.match(push.state('edge/db')?.error ?? '', /^SOURCE_MISCONFIGURED: relation "public.nope"/);
    // A refused set is asked again after a while (the refusal may have been passing).
    const refused = sent.length;
    await until('the retry of a refused set', () => sent.length === refused + 1);
    assert.equal(sent.at(-1)?.kind, 'pipeline.apply');
    answer(sent.at(-1)?.id ?? '', true, { mode: 'filter', tables: ['billing.*', 'public.nope'], added: [] });
    assert.equal(push.state('edge/db')?.status, 'applied');

    // A reconnect gets the current set again.
    const before = sent.length;
    sessions.set('edge/db', { connected: true, connectedAt: new Date(2000) });
    await until('the push on reconnect', () => sent.length === before + 1);
    assert.deepEqual(sent.at(-1)?.payload, { tables: ['billing.*', 'public.nope'] });
  } finally {
    stop();
  }
});
