/**
 * The HTTP API under hostile use: every route refuses missing, malformed,
 * revoked and under-scoped tokens; a token of another workspace never sees
 * or changes this workspace's agents, pipelines or tokens; bodies that are
 * too large or malformed get a 4xx naming the problem. Counts 5xx answers
 * (must be zero) and checks the hub still answers after every case.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApi } from '../../hub/api/app.js';
import { AgentRegistry } from '../../hub/auth/agent-registry.js';
import { ApiTokens } from '../../hub/auth/api-tokens.js';
import { CertificateAuthority } from '../../hub/auth/ca.js';
import { HubStateStore } from '../../hub/auth/state-store.js';
import { parseHubConfig } from '../../hub/config.js';
import { LmdbChangeLog } from '../../hub/log/embedded/lmdb-log.js';
import { HubMetrics } from '../../hub/metrics.js';
import { tempDir } from '../support/pipeline.js';
import { CaseLog, startSecureHub, type SecureHub } from './support.js';

const ACME = 'acme-admin-token-0123456789abcdef0123456789';
const GLOBEX = 'globex-admin-token-0123456789abcdef0123456789';
const OPERATOR = 'operator-admin-token-0123456789abcdef012345';

/** Every route of the API with a request that is valid for an acme admin. `:agent` and `:token` are acme's. */
const ROUTES: ReadonlyArray<{ method: string; path: string; body?: unknown }> = [
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/v1/agents' },
  { method: 'GET', path: '/v1/pipelines' },
  { method: 'GET', path: '/v1/schemas' },
  { method: 'GET', path: '/v1/schemas/:agent/:source/:schema/:table' },
  { method: 'POST', path: '/v1/agents', body: { id: 'edge-new' } },
  { method: 'GET', path: '/v1/agents/:agent' },
  { method: 'POST', path: '/v1/agents/:agent/enrollment-tokens' },
  { method: 'POST', path: '/v1/agents/:agent/revoke' },
  { method: 'GET', path: '/v1/tokens' },
  { method: 'POST', path: '/v1/tokens', body: { name: 'ci', scope: 'read' } },
  { method: 'POST', path: '/v1/tokens/:token/revoke' },
  { method: 'GET', path: '/v1/sources' },
  { method: 'GET', path: '/v1/sinks' },
  { method: 'GET', path: '/v1/snapshots' },
  { method: 'POST', path: '/v1/pipelines', body: { name: 'acme-new', agent: 'edge-acme', source: 'db2', sinks: [] } },
  { method: 'GET', path: '/v1/pipelines/:name' },
  { method: 'PATCH', path: '/v1/pipelines/:name', body: { tables: ['public.orders'] } },
  { method: 'DELETE', path: '/v1/pipelines/:name' },
  { method: 'POST', path: '/v1/pipelines/:name/pause' },
  { method: 'POST', path: '/v1/pipelines/:name/resume' },
  { method: 'POST', path: '/v1/pipelines/:name/snapshots', body: { table: 'public.orders' } },
  { method: 'POST', path: '/v1/snapshots/:source/:table/pause' },
  { method: 'POST', path: '/v1/snapshots/:source/:table/resume' },
  { method: 'POST', path: '/v1/snapshots/:source/:table/cancel' },
];

/** A route's path with acme's ids, or with ids that exist nowhere. */
function fill(path: string, ids: 'acme' | 'none', tokenId: string): string {
  const acme = ids === 'acme';
  return path
    .replace(':agent', acme ? 'edge-acme' : 'edge-none')
    .replace(':token', acme ? tokenId : '0123456789abcdef')
    .replace(':name', acme ? 'acme-orders' : 'none-such')
    .replace(':source', acme ? 'edge-acme%2Fdb' : 'edge-none%2Fdb')
    .replace(':table', 'public.orders');
}

describe('API: tokens, scopes, workspaces and hostile bodies', () => {
  const cases = new CaseLog();
  let hub: SecureHub;
  let acmeRead = '';
  let acmeReadId = '';
  let revoked = '';

  before(async () => {
    const dir = tempDir('security-api');
    hub = await startSecureHub(dir, {
      adminTokens: [
        { workspace: 'acme', token: ACME },
        { workspace: 'globex', token: GLOBEX },
        { workspace: 'default', token: OPERATOR },
      ],
      pipelines: [
        { name: 'acme-orders', workspace: 'acme', agent: 'edge-acme', source: 'db', sinks: [] },
        { name: 'globex-crm', workspace: 'globex', agent: 'edge-globex', source: 'crm', sinks: [] },
      ],
    });
    for (const [token, id] of [
      [ACME, 'edge-acme'],
      [GLOBEX, 'edge-globex'],
    ] as const)
      assert.equal((await hub.http('/v1/agents', token, { method: 'POST', body: JSON.stringify({ id }) })).status, 201);
    const t = (await (await hub.http('/v1/tokens', ACME, { method: 'POST', body: JSON.stringify({ name: 'dash', scope: 'read' }) })).json()) as { token: string; record: { id: string } };
    acmeRead = t.token;
    acmeReadId = t.record.id;
    const r = (await (await hub.http('/v1/tokens', ACME, { method: 'POST', body: JSON.stringify({ name: 'old', scope: 'admin' }) })).json()) as { token: string; record: { id: string } };
    revoked = r.token;
    assert.equal((await hub.http(`/v1/tokens/${r.record.id}/revoke`, ACME, { method: 'POST' })).status, 200);
  });

  after(async () => {
    process.stdout.write(`${cases.summary('HTTP API')}\n`);
    await hub.hub.stop();
  });

  async function call(name: string, method: string, path: string, token: string | null, body?: unknown, headers?: Record<string, string>): Promise<Response> {
    const init: RequestInit = { method, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }), ...(headers ? { headers } : {}) };
    const res = await hub.http(fill(path, 'acme', acmeReadId), token, init);
    cases.record(name, String(res.status), res.status);
    if ((await hub.http('/healthz', null)).status !== 200) cases.crashes++;
    return res;
  }

  it('the route table covers every route the API serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-routes-'));
    const store = new HubStateStore(join(dir, 'state'));
    const log = new LmdbChangeLog(join(dir, 'log'));
    const registry = new AgentRegistry(store, CertificateAuthority.open(dir, null, 'x'), { certificateTtlMs: 1000, enrollmentTtlMs: 1000 });
    const app = createApi({ config: parseHubConfig({ log: { path: join(dir, 'log') } }, {}), log, metrics: new HubMetrics(), sessions: () => new Map(), sinks: () => [], security: { registry, apiTokens: new ApiTokens(store, []) } });
    // /healthz and the OpenAPI document are open by design (neither holds workspace data).
    assert.equal((await app.request('/v1/openapi.json')).status, 200);
    const served = app.routes.filter((r) => r.method !== 'ALL' && r.path !== '/healthz' && r.path !== '/v1/openapi.json').map((r) => `${r.method} ${r.path.replace(/:id/g, r.path.startsWith('/v1/tokens') ? ':token' : ':agent')}`);
    assert.deepEqual([...new Set(served)].sort(), ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    await log[Symbol.asyncDispose]();
    await store[Symbol.asyncDispose]();
  });

  it('every route refuses no token, a malformed token and a revoked token with 401', async () => {
    for (const r of ROUTES)
      for (const [what, token] of [
        ['no token', null],
        ['malformed token', 'trb1.zz.<script>'],
        ['unknown token', `trb1.${'0'.repeat(16)}.${'0'.repeat(64)}`],
        ['revoked token', revoked],
      ] as const) {
        const res = await call(`${r.method} ${r.path} with ${what}`, r.method, r.path, token, r.body);
        assert.equal(res.status, 401, `${r.method} ${r.path} with ${what}`);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
      }
  });

  it('a read-only token may read but not change anything (403)', async () => {
    for (const r of ROUTES.filter((x) => x.method !== 'GET')) {
      const res = await call(`${r.method} ${r.path} with a read token`, r.method, r.path, acmeRead, r.body);
      assert.equal(res.status, 403, `${r.method} ${r.path}`);
    }
    assert.equal((await call('GET /v1/pipelines with a read token', 'GET', '/v1/pipelines', acmeRead)).status, 200);
    assert.equal((await call('GET /v1/tokens with a read token', 'GET', '/v1/tokens', acmeRead)).status, 403);
  });

  it("a token of another workspace, on every route, never sees or changes acme's resources", async () => {
    for (const r of ROUTES) {
      const res = await call(`${r.method} ${r.path} with globex's token`, r.method, r.path, GLOBEX, r.body);
      const text = await res.text();
      assert.ok(res.status < 500, `${r.method} ${r.path}: ${res.status}`);
      if (r.path.includes(':')) {
        // Indistinguishable from an id that exists nowhere.
        assert.equal(res.status, 404, `${r.method} ${r.path}`);
        const missing = await hub.http(fill(r.path, 'none', acmeReadId), GLOBEX, { method: r.method, ...(r.body === undefined ? {} : { body: JSON.stringify(r.body) }) });
        assert.equal(text.replace(/edge-acme|acme-orders|[0-9a-f]{16}/g, 'ID'), (await missing.text()).replace(/edge-none|none-such|[0-9a-f]{16}/g, 'ID'));
      } else for (const secret of ['edge-acme', 'acme-orders', acmeReadId, 'edge-acme/db']) assert.equal(text.includes(secret), false, `${r.method} ${r.path} leaked ${secret}: ${text}`);
    }
    // acme's agent and read token are intact.
    const agent = (await (await hub.http('/v1/agents/edge-acme', ACME)).json()) as { agent: { revokedAt: string | null } };
    assert.equal(agent.agent.revokedAt, null);
    assert.equal((await hub.http('/v1/pipelines', acmeRead)).status, 200);
    const pipelines = (await (await hub.http('/v1/pipelines', ACME)).json()) as { pipelines: { name: string }[] };
    assert.deepEqual(pipelines.pipelines.map((p) => p.name), ['acme-orders']);
    // Metrics span all workspaces: only the operator's workspace reads them.
    assert.equal((await call('GET /metrics with acme admin', 'GET', '/metrics', ACME)).status, 403);
    assert.equal((await call('GET /metrics with the operator token', 'GET', '/metrics', OPERATOR)).status, 200);
  });

  it('refuses oversized, malformed and unexpected bodies with a 4xx naming the problem', async () => {
    const bodies: [string, string, Record<string, string> | undefined, number, RegExp][] = [
      ['body over 64 KiB', JSON.stringify({ name: 'x'.repeat(100_000), scope: 'read' }), undefined, 413, /larger than/],
      ['10 MB body', 'x'.repeat(10 << 20), undefined, 413, /larger than/],
      ['truncated JSON', '{"name": "ci", "sco', undefined, 400, /not valid JSON/],
      ['JSON array', '[1,2,3]', undefined, 400, /JSON object/],
      ['JSON null', 'null', undefined, 400, /JSON object/],
      ['deeply nested JSON', `${'['.repeat(30_000)}${']'.repeat(30_000)}`, undefined, 400, /JSON object|not valid JSON/],
      ['not JSON content type', 'name=ci', { 'content-type': 'application/x-www-form-urlencoded' }, 400, /content-type/],
      ['unknown field', JSON.stringify({ name: 'ci', scope: 'read', workspace: 'globex' }), undefined, 400, /unknown field "workspace"/],
      ['unknown scope', JSON.stringify({ name: 'ci', scope: 'root' }), undefined, 400, /scope/],
      ['control characters in a name', JSON.stringify({ name: 'a\u0000b\n', scope: 'read' }), undefined, 400, /name/],
      ['prototype pollution', '{"__proto__": {"admin": true}, "name": "x"}', undefined, 400, /unknown field "__proto__"/],
      ['invalid UTF-8', '\xff\xfe{"name":1}', undefined, 400, /not valid JSON/],
    ];
    for (const [name, body, headers, status, message] of bodies) {
      const res = await call(`POST /v1/tokens: ${name}`, 'POST', '/v1/tokens', ACME, body, headers);
      const text = await res.text();
      assert.equal(res.status, status, `${name}: ${text}`);
      assert.match(((JSON.parse(text) as { error: { message: string } }).error.message), message, name);
    }
    for (const [name, id, status] of [
      ['agent id with a path', '../../etc/passwd', 400],
      ['agent id of 1000 characters', 'a'.repeat(1000), 400],
      ['agent id with SQL', "x'; DROP TABLE agents;--", 400],
      ['agent id that is a number', 42, 400],
      ['existing agent of another workspace', 'edge-globex', 409],
    ] as const) {
      const res = await call(`POST /v1/agents: ${name}`, 'POST', '/v1/agents', ACME, { id });
      assert.equal(res.status, status, name);
    }
    for (const path of ['/v1/agents/%00', '/v1/agents/..%2f..%2fetc', `/v1/agents/${'x'.repeat(5000)}`, '/v1/tokens/%ff/revoke']) {
      const res = await call(`GET/POST ${path.slice(0, 40)}`, path.endsWith('revoke') ? 'POST' : 'GET', path, ACME);
      assert.equal(res.status, 404, path);
    }
    // Workspaces agree with what they held before.
    const tokens = (await (await hub.http('/v1/tokens', ACME)).json()) as { tokens: { name: string }[] };
    assert.deepEqual(tokens.tokens.map((t) => t.name).sort(), ['dash', 'old']);
    // globex holds only what it created itself (on the POST /v1/tokens route above), all in globex.
    const globex = (await (await hub.http('/v1/tokens', GLOBEX)).json()) as { tokens: { workspace: string }[] };
    assert.deepEqual(globex.tokens.map((t) => t.workspace), ['globex']);
    assert.equal(cases.serverErrors, 0);
    assert.equal(cases.crashes, 0);
  });

  it('no token secret reaches the hub log or its state files', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const secrets = [ACME, GLOBEX, OPERATOR, acmeRead.split('.')[2] ?? 'missing', revoked.split('.')[2] ?? 'missing'];
    const files = [hub.logFile, ...readdirSync(join(hub.securityDir, 'state')).map((f) => join(hub.securityDir, 'state', f))];
    assert.ok(readFileSync(hub.logFile, 'utf8').length > 0);
    for (const f of files) for (const secret of secrets) assert.equal(readFileSync(f).includes(secret), false, `${f} holds a token secret`);
  });
});
