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
import { LmdbChangeLog } from '../log/embedded/lmdb-log.js';
import { HubMetrics } from '../metrics.js';
import { PipelineRegistry } from '../pipelines/pipeline-registry.js';
import { PipelineStore } from '../pipelines/pipeline-store.js';
import { createApi } from './app.js';

const ADMIN = 'test-admin-token-0123456789abcdef0123456789';
const OTHER = 'other-admin-token-0123456789abcdef012345678';
const config = parseHubConfig(
  {
    log: { path: '/unused' },
    sinks: [
      { kind: 'postgres', name: 'warehouse', database: 'dw', user: 'u' },
      { kind: 'postgres', name: 'replica', database: 'r', user: 'u' },
      { kind: 'postgres', name: 'theirs', workspace: 'other', database: 't', user: 'u' },
    ],
    pipelines: [{ name: 'seeded', agent: 'edge-01', source: 'db', sinks: ['warehouse'] }],
    security: { adminTokens: [{ workspace: 'default', token: ADMIN }, { workspace: 'other', token: OTHER }] },
  },
  {},
);

interface ErrorBody {
  error: { code: string; message: string; field?: string };
}
interface Pipeline {
  name: string;
  state: string;
  tables: string[] | null;
  sinks: Array<{ name: string }>;
  origin: string;
}

describe('pipelines API', () => {
  const dirs: string[] = [];
  let log: LmdbChangeLog;
  let store: HubStateStore;
  let pipelineStore: PipelineStore;
  let registry: PipelineRegistry;
  let agents: AgentRegistry;
  let readToken: string;
  let app: ReturnType<typeof createApi>;
  const temp = (p: string): string => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  const call = async (method: string, path: string, body?: unknown, token = ADMIN): Promise<{ status: number; json: unknown }> => {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.status, json: await res.json() };
  };
  const fails = async (method: string, path: string, body: unknown, status: number, code: string, field?: string, token = ADMIN): Promise<string> => {
    const r = await call(method, path, body, token);
    const e = (r.json as ErrorBody).error;
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
    assert.equal(e.code, code);
    assert.equal(e.field, field);
    return e.message;
  };

  before(async () => {
    log = new LmdbChangeLog(temp('tributary-pl-log-'));
    const sec = temp('tributary-pl-sec-');
    store = new HubStateStore(join(sec, 'state'));
    agents = new AgentRegistry(store, CertificateAuthority.open(sec, null, 'hub-test'), { certificateTtlMs: 60_000, enrollmentTtlMs: 60_000 });
    const apiTokens = new ApiTokens(store, config.security.adminTokens);
    readToken = (await apiTokens.create('default', 'read', 'reader')).token;
    await agents.createAgent('other', 'their-agent');
    pipelineStore = new PipelineStore(join(sec, 'pipelines'));
    registry = await PipelineRegistry.open(pipelineStore, config.pipelines);
    app = createApi({ config, log, metrics: new HubMetrics(), sessions: () => new Map(), sinks: () => [], security: { registry: agents, apiTokens }, pipelines: registry });
  });

  after(async () => {
    await log[Symbol.asyncDispose]();
    await store[Symbol.asyncDispose]();
    await pipelineStore[Symbol.asyncDispose]();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('lists the configuration pipeline, seeded', async () => {
    const r = await call('GET', '/v1/pipelines');
    assert.equal(r.status, 200);
    const list = (r.json as { pipelines: Pipeline[] }).pipelines;
    assert.deepEqual(list.map((p) => [p.name, p.origin, p.state, p.tables]), [['seeded', 'config', 'active', null]]);
  });

  it('creates, reads, changes, pauses, resumes and deletes a pipeline', async () => {
    const created = await call('POST', '/v1/pipelines', { name: 'orders', agent: 'edge-02', source: 'shop', sinks: ['warehouse'], tables: ['public.orders', 'billing.*', 'public.orders'] });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const p = (created.json as { pipeline: Pipeline }).pipeline;
    assert.equal(p.state, 'active');
    assert.equal(p.origin, 'api');
    assert.deepEqual(p.tables, ['billing.*', 'public.orders']);
    assert.deepEqual(registry.tablesForSource('edge-02/shop'), ['billing.*', 'public.orders']);
    const routes = registry.routesFor('warehouse');
    assert.equal(routes.has('edge-02/shop'), true);
    assert.equal(registry.routesFor('replica').has('edge-02/shop'), false);

    const changed = await call('PATCH', '/v1/pipelines/orders', { sinks: ['warehouse', 'replica'], tables: ['public.*'] });
    assert.equal(changed.status, 200);
    assert.deepEqual((changed.json as { pipeline: Pipeline }).pipeline.tables, ['public.*']);
    assert.equal(registry.routesFor('replica').has('edge-02/shop'), true);

    const changedAt = routes.changed(AbortSignal.timeout(10_000));
    const paused = await call('POST', '/v1/pipelines/orders/pause');
    assert.equal((paused.json as { pipeline: Pipeline }).pipeline.state, 'paused');
    await changedAt; // the sink driver is woken by the change
    assert.equal(routes.held('edge-02/shop'), true);
    // a paused pipeline's tables stay captured: it resumes where it stopped
    assert.deepEqual(registry.tablesForSource('edge-02/shop'), ['public.*']);
    const resumed = await call('POST', '/v1/pipelines/orders/resume');
    assert.equal((resumed.json as { pipeline: Pipeline }).pipeline.state, 'active');
    assert.equal(routes.held('edge-02/shop'), false);

    const got = await call('GET', '/v1/pipelines/orders');
    assert.equal((got.json as { pipeline: Pipeline }).pipeline.sinks.length, 2);
    const deleted = await call('DELETE', '/v1/pipelines/orders');
    assert.deepEqual(deleted.json, { pipeline: { name: 'orders', deleted: true } });
    assert.equal(routes.has('edge-02/shop'), false);
    assert.equal(registry.tablesForSource('edge-02/shop'), null);
    await fails('GET', '/v1/pipelines/orders', undefined, 404, 'NOT_FOUND');
  });

  it('names the field of every validation error', async () => {
    const base = { name: 'v', agent: 'edge-03', source: 'db', sinks: ['warehouse'] };
    await fails('POST', '/v1/pipelines', { ...base, name: undefined }, 400, 'VALIDATION_FAILED', 'name');
    await fails('POST', '/v1/pipelines', { ...base, name: '-bad' }, 400, 'VALIDATION_FAILED', 'name');
    await fails('POST', '/v1/pipelines', { ...base, agent: 'a b' }, 400, 'VALIDATION_FAILED', 'agent');
    await fails('POST', '/v1/pipelines', { ...base, source: 7 }, 400, 'VALIDATION_FAILED', 'source');
    await fails('POST', '/v1/pipelines', { ...base, sinks: 'warehouse' }, 400, 'VALIDATION_FAILED', 'sinks');
    await fails('POST', '/v1/pipelines', { ...base, sinks: ['warehouse', 'nope'] }, 400, 'UNKNOWN_SINK', 'sinks[1]');
    await fails('POST', '/v1/pipelines', { ...base, sinks: ['warehouse', 'warehouse'] }, 400, 'VALIDATION_FAILED', 'sinks[1]');
    const msg = await fails('POST', '/v1/pipelines', { ...base, tables: ['public.a', 'no_dot', 'x.y'] }, 400, 'VALIDATION_FAILED', 'tables[1]');
    assert.match(msg, /tables\[1\]: expected "schema\.table" or "schema\.\*"/);
    await fails('POST', '/v1/pipelines', { ...base, tables: ['public.a;drop'] }, 400, 'VALIDATION_FAILED', 'tables[0]');
    await fails('POST', '/v1/pipelines', { ...base, tables: 'public.*' }, 400, 'VALIDATION_FAILED', 'tables');
    await fails('POST', '/v1/pipelines', { ...base, extra: 1 }, 400, 'BAD_REQUEST');
    await fails('POST', '/v1/pipelines', '{not json', 400, 'BAD_REQUEST');
    await fails('POST', '/v1/pipelines', { ...base, name: 'seeded' }, 409, 'PIPELINE_EXISTS', 'name');
    await fails('PATCH', '/v1/pipelines/seeded', {}, 400, 'VALIDATION_FAILED', 'sinks');
    await fails('PATCH', '/v1/pipelines/seeded', { tables: [1] }, 400, 'VALIDATION_FAILED', 'tables[0]');
    await fails('PATCH', '/v1/pipelines/seeded', { name: 'x' }, 400, 'BAD_REQUEST');
    await fails('PATCH', '/v1/pipelines/missing', { tables: null }, 404, 'NOT_FOUND');
    await fails('POST', '/v1/pipelines/missing/pause', undefined, 404, 'NOT_FOUND');
    // nothing above changed anything
    assert.deepEqual(registry.all().map((p) => p.name), ['seeded']);
  });

  it('lists registered agents that never connected, per workspace', async () => {
    await agents.createAgent('default', 'edge-idle');
    const mine = (await call('GET', '/v1/agents')).json as { agents: Array<{ agentId: string; status: string; connected: boolean }> };
    assert.deepEqual(mine.agents.map((a) => [a.agentId, a.status, a.connected]), [['edge-idle', 'never-connected', false]]);
    const theirs = (await call('GET', '/v1/agents', undefined, OTHER)).json as { agents: Array<{ agentId: string }> };
    assert.deepEqual(theirs.agents.map((a) => a.agentId), ['their-agent']);
  });

  it('keeps workspaces apart', async () => {
    // another workspace's sink is unknown here, and its agent cannot be routed from here
    await fails('POST', '/v1/pipelines', { name: 'x', agent: 'edge-04', source: 'db', sinks: ['theirs'] }, 400, 'UNKNOWN_SINK', 'sinks[0]');
    await fails('POST', '/v1/pipelines', { name: 'x', agent: 'their-agent', source: 'db', sinks: ['warehouse'] }, 409, 'AGENT_IN_OTHER_WORKSPACE', 'agent');
    // an agent another workspace's pipeline names (registered or not) cannot be taken over from here
    await fails('POST', '/v1/pipelines', { name: 'x', agent: 'edge-01', source: 'db', sinks: ['theirs'] }, 409, 'AGENT_IN_OTHER_WORKSPACE', 'agent', OTHER);
    // the same name in two workspaces are two pipelines
    const theirs = await call('POST', '/v1/pipelines', { name: 'seeded', agent: 'their-agent', source: 'db', sinks: ['theirs'] }, OTHER);
    assert.equal(theirs.status, 201, JSON.stringify(theirs.json));
    const mine = (await call('GET', '/v1/pipelines')).json as { pipelines: Pipeline[] };
    assert.deepEqual(mine.pipelines.map((p) => p.sinks.map((s) => s.name)), [['warehouse']]);
    await fails('DELETE', '/v1/pipelines/seeded', undefined, 401, 'UNAUTHENTICATED', undefined, 'unknown-token-0123456789abcdef0123456789');
    await fails('POST', '/v1/pipelines/seeded/pause', undefined, 403, 'FORBIDDEN', undefined, readToken);
    await fails('POST', '/v1/pipelines', { name: 'y', agent: 'a', source: 'b', sinks: [] }, 403, 'FORBIDDEN', undefined, readToken);
    assert.equal((await call('GET', '/v1/pipelines/seeded', undefined, readToken)).status, 200);
    assert.equal((await call('DELETE', '/v1/pipelines/seeded', undefined, OTHER)).status, 200);
    assert.equal((await call('GET', '/v1/pipelines/seeded')).status, 200, 'deleting theirs left mine');
  });

  it('keeps pipelines durably; the configuration file defines its own', async () => {
    await call('POST', '/v1/pipelines', { name: 'kept', agent: 'edge-05', source: 'db', sinks: ['replica'], tables: ['s.t'] });
    await call('POST', '/v1/pipelines/kept/pause');
    await fails('DELETE', '/v1/pipelines/seeded', undefined, 409, 'CONFIG_MANAGED');
    await fails('PATCH', '/v1/pipelines/seeded', { tables: ['s.t'] }, 409, 'CONFIG_MANAGED');
    assert.equal((await call('POST', '/v1/pipelines/seeded/pause')).status, 200, 'a configuration pipeline can be paused');
    const reopened = await PipelineRegistry.open(pipelineStore, config.pipelines);
    assert.deepEqual(reopened.list('default').sort((a, b) => a.name.localeCompare(b.name)).map((p) => [p.name, p.origin, p.state, p.tables]), [['kept', 'api', 'paused', ['s.t']], ['seeded', 'config', 'paused', null]]);
    assert.equal(reopened.routesFor('replica').held('edge-05/db'), true);
    // The file changed: its pipeline takes the new definition and keeps its state; an API pipeline of the new name gives way.
    const edited = [{ ...config.pipelines[0]!, sinks: ['replica'], tables: ['public.*'] }, { name: 'kept', workspace: 'default', agent: 'edge-06', source: 'db', sinks: [] }];
    const again = await PipelineRegistry.open(pipelineStore, edited);
    assert.deepEqual(again.list('default').sort((a, b) => a.name.localeCompare(b.name)).map((p) => [p.name, p.origin, p.state, p.agent, p.sinks, p.tables]), [
      ['kept', 'config', 'active', 'edge-06', [], null],
      ['seeded', 'config', 'paused', 'edge-01', ['replica'], ['public.*']],
    ]);
    // Removed from the file: gone.
    const removed = await PipelineRegistry.open(pipelineStore, []);
    assert.deepEqual(removed.list('default'), []);
  });
});
