import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { HeartbeatSchema } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { parseHubConfig } from '../config.js';
import type { AgentSession } from '../ingest/ingest-server.js';
import { LmdbChangeLog } from '../log/embedded/lmdb-log.js';
import { HubMetrics } from '../metrics.js';
import type { SinkWorkerStatus } from '../sinks/worker.js';
import { AgentRegistry } from '../auth/agent-registry.js';
import { ApiTokens } from '../auth/api-tokens.js';
import { CertificateAuthority } from '../auth/ca.js';
import { HubStateStore } from '../auth/state-store.js';
import { createApi } from './app.js';

const ADMIN = 'test-admin-token-0123456789abcdef0123456789';
const auth = { authorization: `Bearer ${ADMIN}` };

const config = parseHubConfig(
  {
    hubId: 'hub-test',
    log: { path: '/unused' },
    sinks: [
      { kind: 'postgres', name: 'warehouse', database: 'dw', user: 'u' },
      { kind: 'postgres', name: 'replica', database: 'r', user: 'u' },
      { kind: 'postgres', name: 'idle', database: 'i', user: 'u' },
    ],
    pipelines: [
      { name: 'orders', agent: 'edge-01', source: 'orders-db', sinks: ['warehouse', 'replica', 'idle'] },
      { name: 'crm', agent: 'edge-02', source: 'crm', sinks: ['warehouse'] },
    ],
    security: { adminTokens: [{ workspace: 'default', token: ADMIN }] },
  },
  {},
);

interface Json {
  [k: string]: unknown;
}

describe('hub HTTP API', () => {
  let dir: string;
  let log: LmdbChangeLog;
  const metrics = new HubMetrics();
  const sessions = new Map<string, AgentSession>();
  let sinks: SinkWorkerStatus[] = [];
  let app: ReturnType<typeof createApi>;
  let store: HubStateStore;
  let security: { registry: AgentRegistry; apiTokens: ApiTokens };
  const connectedAt = new Date('2024-05-01T10:00:00.000Z');
  const lastSeen = new Date('2024-05-01T10:05:00.000Z');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-api-test-'));
    log = new LmdbChangeLog(dir);
    const secDir = mkdtempSync(join(tmpdir(), 'tributary-api-security-'));
    store = new HubStateStore(join(secDir, 'state'));
    const ca = CertificateAuthority.open(secDir, null, 'hub-test');
    security = { registry: new AgentRegistry(store, ca, { certificateTtlMs: 60_000, enrollmentTtlMs: 60_000 }), apiTokens: new ApiTokens(store, config.security.adminTokens) };
    // orders-db: sequences 1..3 (offsets 1, 2, 4); crm: sequence 1 (offset 3)
    await log.append('edge-01/orders-db', 1, 0x1_0000_0010n, Uint8Array.of(1), []);
    await log.append('edge-01/orders-db', 2, 0x1_0000_0020n, Uint8Array.of(2), []);
    await log.append('edge-02/crm', 1, 0x42n, Uint8Array.of(3), []);
    await log.append('edge-01/orders-db', 3, 0x16_b374_d848n, Uint8Array.of(4), []);
    sessions.set('edge-01/orders-db', {
      agentId: 'edge-01',
      workspace: 'default',
      sourceId: 'orders-db',
      sourceKind: 'postgres',
      agentVersion: '0.1.0',
      connectedAt,
      lastSeen,
      connected: true,
      freshUntilUs: Date.now() * 1000 - 2_000_000,
      lastHeartbeat: create(HeartbeatSchema, {
        sentAtUs: 1n,
        spooledPosition: 0x16_b374_d848n,
        serverPosition: 0x16_b374_d848n + 4096n,
        spoolBytes: 12_345n,
        spoolLimitBytes: 1_073_741_824n,
        backPressure: false,
        sourceHeartbeatIntervalMs: 10_000,
      }),
    });
    sessions.set('edge-02/crm', {
      agentId: 'edge-02',
      workspace: 'default',
      sourceId: 'crm',
      sourceKind: 'postgres',
      agentVersion: '0.0.9',
      connectedAt,
      lastSeen,
      connected: false,
      lastHeartbeat: null,
      freshUntilUs: 0,
    });
    const nowUs = Date.now() * 1000;
    sinks = [
      {
        sink: 'warehouse', offset: 4, lastCommitTimeUs: nowUs - 60_000_000, appliedAt: Date.parse('2024-05-01T10:04:00.000Z'), failing: false, lastError: null,
        lagSeconds: 1.5, lagBytes: 0,
        sources: [{ source: 'edge-01/orders-db', freshUntilUs: Date.parse('2024-05-01T10:04:00.000Z') * 1000, appliedPosition: 0x16_b374_e848n, lagSeconds: 1.5, lagBytes: 0 }],
      },
      {
        sink: 'replica', offset: 1, lastCommitTimeUs: nowUs - 30_000_000, appliedAt: Date.parse('2024-05-01T10:01:00.000Z'), failing: true, lastError: 'connection refused',
        lagSeconds: 30.25, lagBytes: 8192,
        sources: [
          { source: 'edge-01/orders-db', freshUntilUs: Date.parse('2024-05-01T10:00:30.000Z') * 1000, appliedPosition: 0x16_b374_c848n, lagSeconds: 30.25, lagBytes: 8192 },
          { source: 'edge-02/crm', freshUntilUs: 0, appliedPosition: 0n, lagSeconds: null, lagBytes: null },
        ],
      },
    ];
    metrics.batchesIn.inc({ source: 'edge-01/orders-db' }, 3);
    metrics.eventsIn.inc({ source: 'edge-01/orders-db' }, 10);
    metrics.rejected.inc({ code: 'SEQUENCE_GAP' });
    metrics.sinkOffset.set({ sink: 'warehouse' }, 4);
    app = createApi({ config, log, metrics, sessions: () => sessions, sinks: () => sinks, security });
  });

  after(async () => {
    await log[Symbol.asyncDispose]();
    await store[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET /healthz reports ok with the hub id and log head', async () => {
    const res = await app.request('/healthz');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), { status: 'ok', hub: 'hub-test', logHead: 4 });
  });

  it('GET /metrics renders Prometheus text with every metric and the current log head', async () => {
    const res = await app.request('/metrics', { headers: auth });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.ok(text.endsWith('\n'));
    const names = [
      'tributary_hub_events_ingested_total',
      'tributary_hub_batches_ingested_total',
      'tributary_hub_batches_duplicate_total',
      'tributary_hub_rejected_total',
      'tributary_hub_log_head_offset',
      'tributary_sink_offset',
      'tributary_sink_lag_batches',
      'tributary_sink_lag_seconds',
      'tributary_sink_lag_bytes',
      'tributary_source_lag_seconds',
      'tributary_source_lag_bytes',
      'tributary_sink_events_applied_total',
      'tributary_sink_errors_total',
    ];
    for (const name of names) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), name);
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'), name);
    }
    assert.match(text, /^# TYPE tributary_hub_events_ingested_total counter$/m);
    assert.match(text, /^# TYPE tributary_sink_lag_seconds gauge$/m);
    assert.match(text, /^tributary_hub_log_head_offset 4$/m);
    assert.match(text, /^tributary_hub_batches_ingested_total\{source="edge-01\/orders-db"\} 3$/m);
    assert.match(text, /^tributary_hub_events_ingested_total\{source="edge-01\/orders-db"\} 10$/m);
    assert.match(text, /^tributary_hub_rejected_total\{code="SEQUENCE_GAP"\} 1$/m);
    assert.match(text, /^tributary_sink_offset\{sink="warehouse"\} 4$/m);
    // every sample line is `name{labels} value`
    for (const line of text.trim().split('\n')) {
      if (line.startsWith('#')) continue;
      assert.match(line, /^[a-z_]+(\{[a-z_]+="(?:[^"\\]|\\.)*"(,[a-z_]+="(?:[^"\\]|\\.)*")*\})? -?[0-9.e+]+$/, line);
    }
  });

  it('escapes label values in the exposition format', async () => {
    const m = new HubMetrics();
    m.sinkErrors.inc({ sink: 'a"b\\c\nd', kind: 'sink-unavailable' });
    const text = m.render();
    assert.ok(text.includes('tributary_sink_errors_total{sink="a\\"b\\\\c\\nd",kind="sink-unavailable"} 1'), text);
  });

  it('GET /v1/agents lists sessions with positions as LSNs and byte lag', async () => {
    const res = await app.request('/v1/agents', { headers: auth });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { agents: Json[] };
    assert.equal(body.agents.length, 2);
    const orders = body.agents.find((a) => a['sourceId'] === 'orders-db');
    assert.deepEqual(orders, {
      agentId: 'edge-01',
      sourceId: 'orders-db',
      sourceKind: 'postgres',
      version: '0.1.0',
      connected: true,
      status: 'connected',
      connectedAt: '2024-05-01T10:00:00.000Z',
      lastSeen: '2024-05-01T10:05:00.000Z',
      ackedSequence: 3,
      spool: { bytes: 12_345, limitBytes: 1_073_741_824, backPressure: false },
      sourcePosition: { spooled: '16/B374D848', server: '16/B374E848', lagBytes: 4096 },
      sourceHeartbeatIntervalMs: 10_000,
    });
    const crm = body.agents.find((a) => a['sourceId'] === 'crm');
    assert.equal(crm?.['connected'], false);
    assert.equal(crm?.['ackedSequence'], 1);
    assert.equal(crm?.['spool'], null);
    assert.equal(crm?.['sourcePosition'], null);
    assert.equal(crm?.['sourceHeartbeatIntervalMs'], null);
  });

  it('GET /v1/pipelines reports ingest positions and per-sink lag', async () => {
    const res = await app.request('/v1/pipelines', { headers: auth });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { pipelines: Array<Json & { ingest: Json; sinks: Json[] }>; logHead: number };
    assert.equal(body.logHead, 4);
    assert.deepEqual(
      body.pipelines.map((p) => p['name']),
      ['orders', 'crm'],
    );

    const orders = body.pipelines[0];
    assert.equal(orders?.['agent'], 'edge-01');
    assert.equal(orders?.['source'], 'orders-db');
    assert.equal(orders?.['connected'], true);
    // the hub log holds the source up to 2 s ago; 4096 bytes of WAL behind the server's end
    const ingest = orders?.ingest as Json;
    assert.deepEqual({ ...ingest, lagSeconds: undefined }, { ackedSequence: 3, sourcePosition: '16/B374D848', logOffset: 4, lagSeconds: undefined, lagBytes: 4096 });
    const ingestLag = ingest['lagSeconds'] as number;
    assert.ok(ingestLag >= 2 && ingestLag < 10, `ingest lagSeconds ${ingestLag}`);

    const [warehouse, replica, idle] = orders?.sinks ?? [];
    // fresh: the sink's own measured lag for this source
    assert.deepEqual(warehouse, {
      name: 'warehouse', offset: 4, lagBatches: 0, lagSeconds: 1.5, lagBytes: 0, freshUntil: '2024-05-01T10:04:00.000Z',
      lastAppliedAt: '2024-05-01T10:04:00.000Z', failing: false, lastError: null,
    });
    // behind: lag in batches, and this source's seconds and bytes as the sink measured them
    assert.equal(replica?.['offset'], 1);
    assert.equal(replica?.['lagBatches'], 3);
    assert.equal(replica?.['lagSeconds'], 30.25);
    assert.equal(replica?.['lagBytes'], 8192);
    assert.equal(replica?.['freshUntil'], '2024-05-01T10:00:30.000Z');
    assert.equal(replica?.['failing'], true);
    assert.equal(replica?.['lastError'], 'connection refused');
    assert.equal(replica?.['lastAppliedAt'], '2024-05-01T10:01:00.000Z');
    // no worker status: nothing measured yet
    assert.deepEqual(idle, { name: 'idle', offset: 0, lagBatches: 4, lagSeconds: null, lagBytes: null, freshUntil: null, lastAppliedAt: null, failing: false, lastError: null });
    // the pipeline is as fresh as its stalest measured sink
    assert.equal(orders?.['lagSeconds'], 30.25);
    assert.equal(orders?.['lagBytes'], 8192);

    const crm = body.pipelines[1];
    assert.equal(crm?.['connected'], false);
    assert.deepEqual(crm?.ingest, { ackedSequence: 1, sourcePosition: '0/42', logOffset: 3, lagSeconds: null, lagBytes: null });
    assert.equal(crm?.sinks.length, 1);
    assert.equal(crm?.['lagSeconds'], null);
  });

  it('GET /v1/pipelines shows a pipeline whose source never connected', async () => {
    const cfg = parseHubConfig({ log: { path: '/unused' }, pipelines: [{ name: 'new', agent: 'edge-09', source: 'db', sinks: [] }] }, {});
    const res = await createApi({ config: cfg, log, metrics, sessions: () => new Map(), sinks: () => [], security }).request('/v1/pipelines', { headers: auth });
    const body = (await res.json()) as { pipelines: Json[] };
    const [p] = body.pipelines;
    assert.equal(typeof p?.['createdAt'], 'string');
    assert.deepEqual({ ...p, createdAt: undefined, updatedAt: undefined }, {
      name: 'new',
      agent: 'edge-09',
      source: 'db',
      state: 'active',
      tables: null,
      origin: 'config',
      createdAt: undefined,
      updatedAt: undefined,
      connected: false,
      agentTables: null,
      lagSeconds: null,
      lagBytes: null,
      ingest: { ackedSequence: 0, sourcePosition: null, logOffset: 0, lagSeconds: null, lagBytes: null },
      sinks: [],
    });
  });

  it('answers unknown routes and methods with a 404 JSON error', async () => {
    for (const [path, method] of [
      ['/nope', 'GET'],
      ['/v1/agents/edge-01/nope', 'GET'],
      ['/v1', 'GET'],
      ['/healthz', 'POST'],
      ['/v1/pipelines', 'DELETE'],
    ] as const) {
      const res = await app.request(path, { method, headers: auth });
      assert.equal(res.status, 404, `${method} ${path}`);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'NOT_FOUND');
      assert.equal(body.error.message, `no route ${method} ${path}`);
    }
  });

  it('answers a failing handler with a 500 JSON error', async () => {
    const broken = createApi({
      config,
      log,
      metrics,
      sessions: () => {
        throw new Error('sessions unavailable');
      },
      sinks: () => [],
      security,
    });
    const res = await broken.request('/v1/agents', { headers: auth });
    assert.equal(res.status, 500);
    // An unexpected error's message may hold internals (paths, SQL): it is not sent.
    assert.deepEqual(await res.json(), { error: { code: 'INTERNAL', message: 'internal error' } });
  });
});
