import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentRegistry } from '../../auth/agent-registry.js';
import { ApiTokens } from '../../auth/api-tokens.js';
import { CertificateAuthority } from '../../auth/ca.js';
import { HubStateStore } from '../../auth/state-store.js';
import { parseHubConfig } from '../../config.js';
import { LmdbChangeLog } from '../../log/embedded/lmdb-log.js';
import { HubMetrics } from '../../metrics.js';
import { AlertFeed } from '../../alerts/alert-feed.js';
import { AlertStore } from '../../alerts/alert-store.js';
import { DoctorStore } from '../../alerts/doctor-store.js';
import { ERROR_CODES } from '../api-error.js';
import { createApi } from '../app.js';
import { create } from '@bufbuild/protobuf';
import { HeartbeatSchema } from '../../../proto/gen/tributary/v1/uplink_pb.js';
import { HubEvents } from '../../events/hub-events.js';
import type { AgentSession } from '../../ingest/ingest-server.js';
import { createLogger } from '../../log.js';
import { schemaErrors } from '../../../test/support/check-schema.js';
import { OPERATIONS_ROUTES } from './routes-operations.js';

type Doc = { openapi: string; paths: Record<string, Record<string, { operationId: string; parameters?: Array<{ name: string; in: string }>; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };

const toOpenApi = (honoPath: string): string => honoPath.replace(/:([A-Za-z]+)/g, '{$1}');

const ADMIN = 'test-admin-token-0123456789abcdef0123456789';
const events = new HubEvents(createLogger('error', {}, () => undefined));

describe('OpenAPI document', () => {
  let dir: string;
  let log: LmdbChangeLog;
  let store: HubStateStore;
  let alertStore: AlertStore;
  let app: ReturnType<typeof createApi>;
  let doc: Doc;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-openapi-'));
    log = new LmdbChangeLog(join(dir, 'log'));
    store = new HubStateStore(join(dir, 'state'));
    const config = parseHubConfig(
      {
        log: { path: '/unused' },
        sinks: [{ kind: 'postgres', name: 'warehouse', database: 'dw', user: 'u' }, { kind: 'postgres', name: 'idle', database: 'dw', user: 'u' }],
        pipelines: [{ name: 'orders', agent: 'edge-01', source: 'db', sinks: ['warehouse'], tables: ['public.orders'] }],
        security: { adminTokens: [{ workspace: 'default', token: ADMIN }] },
      },
      {},
    );
    const security = { registry: new AgentRegistry(store, CertificateAuthority.open(dir, null, 'hub'), { certificateTtlMs: 60_000, enrollmentTtlMs: 60_000 }), apiTokens: new ApiTokens(store, config.security.adminTokens) };
    await security.registry.createAgent('default', 'edge-02');
    await log.append('edge-01/db', 1, 0x10n, new Uint8Array(0), []);
    const hb = create(HeartbeatSchema, { sentAtUs: 1n, spooledPosition: 0x10n, serverPosition: 0x20n, spoolBytes: 10n, spoolLimitBytes: 100n, backPressure: false });
    const sessions = new Map<string, AgentSession>([['edge-01/db', { agentId: 'edge-01', workspace: 'default', sourceId: 'db', sourceKind: 'postgres', agentVersion: '0.1.0', connectedAt: new Date(), lastSeen: new Date(), lastHeartbeat: hb, connected: true, freshUntilUs: 0 }]]);
    alertStore = new AlertStore(join(dir, 'alerts'));
    const alerts = { feed: new AlertFeed(alertStore, 100), doctor: new DoctorStore() };
    alerts.doctor.put({ source: 'edge-01/db', workspace: 'default', checkedAt: '2026-01-01T00:00:00Z', receivedAt: '2026-01-01T00:00:01Z', findings: [{ check: 'wal_level', severity: 'critical', message: 'replica', fix: 'ALTER SYSTEM SET wal_level = logical;' }] });
    app = createApi({ config, log, metrics: new HubMetrics(), sessions: () => sessions, sinks: () => [{ sink: 'warehouse', offset: 1, lastCommitTimeUs: 1, appliedAt: 1, failing: false, lastError: null, lagSeconds: null, lagBytes: null, sources: [] }], security, events, alerts });
    events.publish({ kind: 'agent.snapshot.progress', workspace: 'default', source: 'edge-01/db', severity: 'info', message: '', data: { payload: { table: 'public.orders', state: 'running', rowsDone: 5, rowsEstimate: 10, chunksDone: 1, startedAt: '2024-01-01T00:00:00Z', updatedAt: '2024-01-01T00:00:05Z' } } });
    // Served without a token: it describes the API, it holds no workspace data.
    const res = await app.request('/v1/openapi.json');
    assert.equal(res.status, 200);
    doc = (await res.json()) as Doc;
  });

  after(async () => {
    await log[Symbol.asyncDispose]();
    await store[Symbol.asyncDispose]();
    await alertStore[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes every route the app serves', () => {
    const served = app.routes.filter((r) => r.method !== 'ALL').map((r) => [r.method.toLowerCase(), toOpenApi(r.path)] as const);
    assert.ok(served.length >= 25, `only ${served.length} routes found`);
    const missing = served.filter(([m, p]) => doc.paths[p]?.[m] === undefined).map(([m, p]) => `${m.toUpperCase()} ${p}`);
    assert.deepEqual(missing, [], 'routes served but not described: add them to hub/api/openapi/routes-<group>.ts');
  });

  it('serves every route it describes', () => {
    const served = new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method.toLowerCase()} ${toOpenApi(r.path)}`));
    const described = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    assert.deepEqual(described.filter((d) => !served.has(d)), []);
    assert.ok(OPERATIONS_ROUTES.some((r) => r.tag === 'schemas'));
  });

  it('is a consistent OpenAPI 3.1 document', () => {
    assert.equal(doc.openapi, '3.1.0');
    const ids = new Set<string>();
    const text = JSON.stringify(doc);
    for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/([A-Za-z]+)"/g)) assert.ok(doc.components.schemas[m[1] as string] !== undefined, `unresolved $ref ${m[1]}`);
    for (const [path, ops] of Object.entries(doc.paths)) {
      const pathParams = [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops)) {
        assert.ok(!ids.has(op.operationId), `duplicate operationId ${op.operationId}`);
        ids.add(op.operationId);
        assert.deepEqual(op.parameters?.filter((p) => p.in === 'path').map((p) => p.name) ?? [], pathParams, `${method} ${path} path parameters`);
        assert.ok(Object.keys(op.responses).some((s) => s.startsWith('2')), `${method} ${path}: no success response`);
        assert.ok(op.responses['500'] !== undefined, `${method} ${path}: no 500`);
      }
    }
  });

  it('answers with the shapes it documents', async () => {
    const schemas = doc.components.schemas as Record<string, Record<string, unknown>>;
    const check = async (method: string, path: string, docPath: string, body?: unknown): Promise<void> => {
      const res = await app.request(path, { method, headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const op = doc.paths[docPath]?.[method.toLowerCase()] as unknown as { responses: Record<string, { content: Record<string, { schema: Record<string, unknown> }> }> };
      const entry = op.responses[String(res.status)];
      assert.ok(entry !== undefined, `${method} ${path}: status ${res.status} is not documented`);
      const errors = schemaErrors(entry.content['application/json']?.schema ?? {}, await res.json(), schemas);
      assert.deepEqual(errors, [], `${method} ${path}`);
    };
    await check('POST', '/v1/pipelines', '/v1/pipelines', { name: 'shop', agent: 'edge-03', source: 'db', sinks: ['warehouse', 'idle'], tables: ['public.*'] });
    await check('POST', '/v1/pipelines', '/v1/pipelines', { name: 'bad', agent: 'edge-03', source: 'db', sinks: ['nope'] });
    await check('GET', '/v1/pipelines', '/v1/pipelines');
    await check('PATCH', '/v1/pipelines/shop', '/v1/pipelines/{name}', { sinks: ['idle'] });
    await check('PATCH', '/v1/pipelines/orders', '/v1/pipelines/{name}', { sinks: ['idle'] });
    await check('POST', '/v1/pipelines/shop/pause', '/v1/pipelines/{name}/pause');
    await check('GET', '/v1/agents', '/v1/agents');
    await check('GET', '/v1/schemas', '/v1/schemas');
    await check('GET', '/v1/schemas/edge-01/db/public/orders', '/v1/schemas/{agent}/{source}/{schema}/{table}');
    await check('GET', '/v1/sources', '/v1/sources');
    await check('GET', '/v1/sinks', '/v1/sinks');
    await check('GET', '/v1/snapshots', '/v1/snapshots');
    await check('POST', '/v1/pipelines/orders/snapshots', '/v1/pipelines/{name}/snapshots', { table: 'public.orders' });
    await check('DELETE', '/v1/pipelines/shop', '/v1/pipelines/{name}');
    await check('GET', '/v1/pipelines/shop', '/v1/pipelines/{name}');
    await check('GET', '/v1/alerts', '/v1/alerts');
    await check('GET', '/v1/alerts?state=nope', '/v1/alerts');
    await check('POST', '/v1/alerts/nope/ack', '/v1/alerts/{id}/ack');
    await check('GET', '/v1/agents/edge-01/doctor', '/v1/agents/{agent}/doctor');
    await check('GET', '/v1/agents/-bad/doctor', '/v1/agents/{agent}/doctor');
  });

  it('documents every error code with its status', () => {
    const documented = (doc as unknown as { 'x-error-codes': Record<string, { status: number }> })['x-error-codes'];
    for (const [code, v] of Object.entries(ERROR_CODES)) assert.equal(documented[code]?.status, v.status, code);
    // a validation error of a pipeline route is documented as such
    const create = doc.paths['/v1/pipelines']?.['post'];
    assert.match(JSON.stringify(create?.responses['400']), /VALIDATION_FAILED/);
    assert.match(JSON.stringify(create?.responses['409']), /PIPELINE_EXISTS/);
  });
});
