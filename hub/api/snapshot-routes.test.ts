import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentRegistry } from '../auth/agent-registry.js';
import { ApiTokens } from '../auth/api-tokens.js';
import { CertificateAuthority } from '../auth/ca.js';
import { HubStateStore } from '../auth/state-store.js';
import { parseHubConfig } from '../config.js';
import { HubEvents } from '../events/hub-events.js';
import type { AgentSession } from '../ingest/ingest-server.js';
import { createLogger } from '../log.js';
import { LmdbChangeLog } from '../log/embedded/lmdb-log.js';
import { HubMetrics } from '../metrics.js';
import { createApi } from './app.js';

const ADMIN = 'test-admin-token-0123456789abcdef0123456789';
const OTHER = 'other-admin-token-0123456789abcdef012345678';
const config = parseHubConfig(
  {
    log: { path: '/unused' },
    sinks: [
      { kind: 'postgres', name: 'warehouse', database: 'dw', user: 'u' },
      { kind: 'postgres', name: 'spare', database: 'dw', user: 'u' },
      { kind: 'postgres', name: 'theirs', workspace: 'other', database: 'dw', user: 'u' },
    ],
    pipelines: [
      { name: 'shop', agent: 'edge-01', source: 'shop', sinks: ['warehouse'], tables: ['public.orders', 'billing.*'] },
      { name: 'crm', agent: 'edge-02', source: 'shop', sinks: ['warehouse'] },
      { name: 'theirs', workspace: 'other', agent: 'edge-09', source: 'db', sinks: ['theirs'] },
    ],
    security: { adminTokens: [{ workspace: 'default', token: ADMIN }, { workspace: 'other', token: OTHER }] },
  },
  {},
);

describe('snapshot, source and sink routes', () => {
  let dir: string;
  let log: LmdbChangeLog;
  let store: HubStateStore;
  let app: ReturnType<typeof createApi>;
  const events = new HubEvents(createLogger('error', {}, () => undefined));
  const sent: Array<{ key: string; kind: string; payload: unknown }> = [];
  const connected = new Set(['edge-01/shop']);
  const sessions = new Map<string, AgentSession>([
    ['edge-01/shop', { agentId: 'edge-01', workspace: 'default', sourceId: 'shop', sourceKind: 'postgres', agentVersion: '0.1.0', connectedAt: new Date(), lastSeen: new Date('2024-05-01T10:00:00Z'), lastHeartbeat: null, connected: true, freshUntilUs: 0 }],
  ]);
  const call = async (method: string, path: string, body?: unknown, token = ADMIN): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await app.request(path, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const progress = (source: string, workspace: string, payload: unknown): void => {
    events.publish({ kind: 'agent.snapshot.progress', workspace, source, severity: 'info', message: 'progress', data: { payload, commandId: '', agentTimeUs: 0 } });
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-snap-api-'));
    log = new LmdbChangeLog(join(dir, 'log'));
    store = new HubStateStore(join(dir, 'state'));
    const security = { registry: new AgentRegistry(store, CertificateAuthority.open(dir, null, 'hub'), { certificateTtlMs: 60_000, enrollmentTtlMs: 60_000 }), apiTokens: new ApiTokens(store, config.security.adminTokens) };
    const ingest = {
      sendCommand: (key: string, kind: string, payload: unknown): string | null => {
        if (!connected.has(key)) return null;
        sent.push({ key, kind, payload });
        return `cmd-${sent.length}`;
      },
    };
    app = createApi({ config, log, metrics: new HubMetrics(), sessions: () => sessions, sinks: () => [{ sink: 'warehouse', offset: 0, lastCommitTimeUs: 0, appliedAt: 0, failing: true, lastError: 'refused', lagSeconds: null, lagBytes: null, sources: [] }], security, events, ingest });
  });

  after(async () => {
    await log[Symbol.asyncDispose]();
    await store[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  it('relays snapshot.start for a table of the pipeline to its agent', async () => {
    const r = await call('POST', '/v1/pipelines/shop/snapshots', { table: 'billing.invoices' });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    assert.deepEqual(r.json, { command: { id: 'cmd-1', kind: 'snapshot.start', source: 'edge-01/shop', table: 'billing.invoices' } });
    assert.deepEqual(sent.at(-1), { key: 'edge-01/shop', kind: 'snapshot.start', payload: { table: 'billing.invoices' } });
  });

  it('refuses bad snapshot requests by field and code', async () => {
    const cases: Array<[string, string, unknown, number, string, string | undefined]> = [
      ['POST', '/v1/pipelines/shop/snapshots', { table: 'public.customers' }, 400, 'VALIDATION_FAILED', 'table'],
      ['POST', '/v1/pipelines/shop/snapshots', { table: 'public.*' }, 400, 'VALIDATION_FAILED', 'table'],
      ['POST', '/v1/pipelines/shop/snapshots', {}, 400, 'VALIDATION_FAILED', 'table'],
      ['POST', '/v1/pipelines/nope/snapshots', { table: 'public.orders' }, 404, 'NOT_FOUND', undefined],
      ['POST', '/v1/pipelines/theirs/snapshots', { table: 'public.orders' }, 404, 'NOT_FOUND', undefined],
      ['POST', '/v1/pipelines/crm/snapshots', { table: 'public.orders' }, 409, 'AGENT_NOT_CONNECTED', undefined],
      ['POST', '/v1/snapshots/shop/public.orders/pause', undefined, 400, 'VALIDATION_FAILED', 'source'],
      ['POST', '/v1/snapshots/edge-09%2Fdb/public.orders/pause', undefined, 404, 'NOT_FOUND', undefined],
      ['POST', '/v1/snapshots/edge-01%2Fshop/orders/pause', undefined, 404, 'NOT_FOUND', undefined],
    ];
    const before = sent.length;
    for (const [method, path, body, status, code, field] of cases) {
      const r = await call(method, path, body);
      const e = r.json['error'] as { code: string; field?: string };
      assert.equal(r.status, status, `${path}: ${JSON.stringify(r.json)}`);
      assert.equal(e.code, code, path);
      assert.equal(e.field, field, path);
    }
    assert.equal(sent.length, before, 'nothing was sent');
  });

  it('relays pause, resume and cancel to the agent of agent/source', async () => {
    for (const [path, kind] of [
      ['/v1/snapshots/edge-01%2Fshop/public.orders/pause', 'snapshot.pause'],
      ['/v1/snapshots/edge-01%2Fshop/public.orders/resume', 'snapshot.resume'],
      ['/v1/snapshots/edge-01%2Fshop/public.orders/cancel', 'snapshot.cancel'],
    ] as const) {
      const r = await call('POST', path);
      assert.equal(r.status, 202, JSON.stringify(r.json));
      assert.deepEqual(sent.at(-1), { key: 'edge-01/shop', kind, payload: { table: 'public.orders' } });
    }
  });

  it('lists the newest progress per table with an ETA, per workspace', async () => {
    progress('edge-01/shop', 'default', { table: 'public.orders', state: 'running', rowsDone: 100, rowsEstimate: 1000, chunksDone: 1, startedAt: '2024-05-01T10:00:00.000Z', updatedAt: '2024-05-01T10:00:05.000Z' });
    progress('edge-01/shop', 'default', { table: 'public.orders', state: 'running', rowsDone: 250, rowsEstimate: 1000, chunksDone: 3, startedAt: '2024-05-01T10:00:00.000Z', updatedAt: '2024-05-01T10:00:10.000Z' });
    progress('edge-01/shop', 'default', { table: 'billing.x', state: 'exploded', rowsDone: 1 }); // malformed: ignored
    progress('edge-09/db', 'other', { table: 'public.secret', state: 'done', rowsDone: 5, rowsEstimate: 5, chunksDone: 1, startedAt: null, updatedAt: '2024-05-01T10:00:00.000Z' });
    const r = await call('GET', '/v1/snapshots');
    assert.deepEqual(r.json['snapshots'], [
      { source: 'edge-01/shop', table: 'public.orders', state: 'running', rowsDone: 250, rowsEstimate: 1000, chunksDone: 3, startedAt: '2024-05-01T10:00:00.000Z', updatedAt: '2024-05-01T10:00:10.000Z', error: null, etaSeconds: 30, etaAt: '2024-05-01T10:00:40.000Z' },
    ]);
    const theirs = await call('GET', '/v1/snapshots', undefined, OTHER);
    assert.deepEqual((theirs.json['snapshots'] as Array<{ table: string }>).map((s) => s.table), ['public.secret']);
  });

  it('lists sources and sinks of the workspace with their status', async () => {
    const src = (await call('GET', '/v1/sources')).json['sources'] as Array<Record<string, unknown>>;
    assert.deepEqual(src.map((s) => [s['key'], s['status'], s['pipelines'], s['tables']]), [
      ['edge-01/shop', 'streaming', ['shop'], ['billing.*', 'public.orders']],
      ['edge-02/shop', 'never-connected', ['crm'], null],
    ]);
    const sinks = (await call('GET', '/v1/sinks')).json['sinks'] as Array<Record<string, unknown>>;
    assert.deepEqual(sinks.map((s) => [s['name'], s['status'], s['pipelines'], s['lastError']]), [
      ['warehouse', 'failing', ['shop', 'crm'], 'refused'],
      ['spare', 'idle', [], null],
    ]);
    const theirs = (await call('GET', '/v1/sinks', undefined, OTHER)).json['sinks'] as Array<Record<string, unknown>>;
    assert.deepEqual(theirs.map((s) => s['name']), ['theirs']);
  });
});
