/**
 * The control channel over a real gRPC stream: a hub's IngestServer and an
 * agent's Uplink in one process (development plaintext channel), with a
 * source that produces nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { LmdbChangeBuffer } from '../agent/buffer/lmdb-change-buffer.js';
import { createLogger as agentLogger } from '../agent/log.js';
import type { ChangeSource } from '../agent/sources/change-source.js';
import { AgentControl, CommandError } from '../agent/uplink/control.js';
import { Uplink } from '../agent/uplink/uplink-client.js';
import { HubEvents, type HubEvent } from '../hub/events/hub-events.js';
import { IngestServer } from '../hub/ingest/ingest-server.js';
import { createLogger as hubLogger } from '../hub/log.js';
import { LmdbChangeLog } from '../hub/log/embedded/lmdb-log.js';
import { HubMetrics } from '../hub/metrics.js';

const dir = mkdtempSync(join(tmpdir(), 'tributary-control-'));
const quietHub = hubLogger('error', {}, () => undefined);
const quietAgent = agentLogger('error', {}, () => undefined);
const events = new HubEvents(quietHub);
const log = new LmdbChangeLog(join(dir, 'log'));
const ingest = new IngestServer({ hubId: 'hub-1', log, logger: quietHub, metrics: new HubMetrics(), maxMessageBytes: 4 << 20, credentials: null, security: { registry: null, pipelineWorkspaces: () => ['default'] }, events });
const control = new AgentControl(quietAgent);
const stop = new AbortController();
let buffer: LmdbChangeBuffer;
let running: Promise<void>;

const idleSource: ChangeSource = {
  id: 'orders-db',
  run: (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
  status: () => ({ connected: true, confirmedPosition: 0n, serverPosition: 0n, backPressure: false, eventsCaptured: 0, lastError: null, heartbeatIntervalMs: 0 }),
};

function nextEvent(kind: string): Promise<HubEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${kind} event within 20 s`)), 20_000);
    const off = events.subscribe((e) => {
      if (e.kind !== kind) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

before(async () => {
  const port = await ingest.listen('127.0.0.1:0');
  buffer = await LmdbChangeBuffer.open({ path: join(dir, 'spool'), maxBytes: 64 << 20 });
  const uplink = new Uplink({ address: `127.0.0.1:${port}`, agentId: 'agent-1', agentVersion: 'test', source: idleSource, sourceKind: 'postgres', buffer, log: quietAgent, window: 4, heartbeatMs: 1000, credentials: grpc.credentials.createInsecure(), control });
  running = uplink.run(stop.signal);
  const deadline = Date.now() + 20_000;
  while (ingest.sessions.get('agent-1/orders-db')?.connected !== true) {
    if (Date.now() > deadline) throw new Error('the agent did not connect within 20 s');
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  stop.abort();
  await running;
  await ingest.close();
  await buffer[Symbol.asyncDispose]();
  await log[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

test('a command reaches the agent and its result comes back as a hub event with the same id', async () => {
  control.handle('echo.twice', async (p) => ({ twice: (p as { n: number }).n * 2 }));
  const result = nextEvent('agent.command.result');
  const id = ingest.sendCommand('agent-1/orders-db', 'echo.twice', { n: 21 });
  assert.ok(id !== null);
  const e = await result;
  assert.equal(e.workspace, 'default');
  assert.equal(e.source, 'agent-1/orders-db');
  assert.equal(e.data['commandId'], id);
  assert.deepEqual(e.data['payload'], { id, kind: 'echo.twice', ok: true, result: { twice: 42 } });
});

test('a refused command comes back as a warning naming the reason', async () => {
  control.handle('snapshot.start', async () => {
    throw new CommandError('NOT_CAPTURED', 'table public.nope is not captured by this source');
  });
  const result = nextEvent('agent.command.result');
  ingest.sendCommand('agent-1/orders-db', 'snapshot.start', { table: 'public.nope' });
  const e = await result;
  assert.equal(e.severity, 'warning');
  assert.match(e.message, /public\.nope is not captured/);
});

test('events emitted by the agent are published with the source and workspace', async () => {
  const got = nextEvent('agent.doctor.findings');
  control.emit('doctor.findings', { findings: [{ check: 'wal_level', severity: 'ok' }] });
  const e = await got;
  assert.equal(e.source, 'agent-1/orders-db');
  assert.deepEqual(e.data['payload'], { findings: [{ check: 'wal_level', severity: 'ok' }] });
});

test('a command for a source without a stream is not sent', () => {
  assert.equal(ingest.sendCommand('agent-1/other-db', 'echo.twice', {}), null);
});
