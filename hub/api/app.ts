/**
 * The hub's HTTP API (hono): health, Prometheus metrics, agents, and one
 * route file per group mounted below (security, pipelines, snapshots,
 * sources and sinks), described by the OpenAPI document (openapi/). Every
 * route but /healthz and /v1/openapi.json needs a bearer token and answers
 * only about that token's workspace (auth-middleware.ts).
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { HubSecurity } from '../auth/hub-security.js';
import { HubError } from '../errors.js';
import { apiError, requireOperator, requireToken, type ApiEnv } from './auth-middleware.js';
import { MAX_BODY_BYTES } from './json-body.js';
import { schemaRoutes, sourceWorkspace } from './schema-routes.js';
import { securityRoutes } from './security-routes.js';
import { ApiError } from './api-error.js';
import { inventoryRoutes } from './inventory-routes.js';
import { openApiDocument } from './openapi/document.js';
import { pipelineRoutes } from './pipeline-routes.js';
import { snapshotRoutes } from './snapshot-routes.js';
import { SnapshotTracker } from './snapshot-tracker.js';
import { lsn } from './pipeline-view.js';
import { PipelineRegistry } from '../pipelines/pipeline-registry.js';
import type { PipelinePush } from '../pipelines/agent-push.js';
import { alertRoutes } from './alert-routes.js';
import { doctorRoutes } from './doctor-routes.js';
import type { AlertService } from '../alerts/alert-service.js';
import { statusOf } from './status.js';
import type { HubConfig } from '../config.js';
import type { HubEvents } from '../events/hub-events.js';
import type { AgentSession, IngestServer } from '../ingest/ingest-server.js';
import type { IngestLog } from '../log/change-log.js';
import type { HubMetrics } from '../metrics.js';
import type { SinkWorkerStatus } from '../sinks/worker.js';

export interface ApiDeps {
  readonly config: HubConfig;
  readonly log: IngestLog;
  readonly metrics: HubMetrics;
  readonly sessions: () => ReadonlyMap<string, AgentSession>;
  readonly sinks: () => readonly SinkWorkerStatus[];
  readonly security: Pick<HubSecurity, 'registry' | 'apiTokens'>;
  /** The hub's pipelines; absent: the configuration's, in memory. */
  readonly pipelines?: PipelineRegistry;
  /** The agent push (applied tables per source); absent: not shown. */
  readonly push?: PipelinePush;
  readonly alerts?: Pick<AlertService, 'feed' | 'doctor'>;
  /** The hub's event bus (hub/events); absent in tests that need none. */
  readonly events?: HubEvents | undefined;
  /** Sends commands to connected agents (`sendCommand`); absent in tests without ingest. */
  readonly ingest?: Pick<IngestServer, 'sendCommand'> | undefined;
}

export function createApi(deps: ApiDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const pipelines = deps.pipelines ?? PipelineRegistry.inMemory(deps.config.pipelines);
  app.onError((err, c) => (err instanceof ApiError ? c.json({ error: { code: err.code, message: err.message, ...(err.field === undefined ? {} : { field: err.field }) } }, err.status) : err instanceof HubError ? apiError(c, ...statusOf(err.kind), err.message) : apiError(c, 500, 'INTERNAL', 'internal error')));
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  // /healthz stays open for load balancers and says nothing about any workspace; the API's
  // description is open too (registered before the token check): it holds no workspace data.
  app.get('/v1/openapi.json', (c) => c.json(openApiDocument()));
  app.use('/v1/*', requireToken(deps.security.apiTokens), bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => apiError(c, 413, 'TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`) }));
  app.use('/metrics', requireToken(deps.security.apiTokens), requireOperator('default'));
  app.get('/healthz', (c) => c.json({ status: 'ok', hub: deps.config.hubId, logHead: deps.log.headOffset() }));

  app.get('/metrics', (c) => {
    deps.metrics.logHead.set({}, deps.log.headOffset());
    return c.text(deps.metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4' });
  });

  app.get('/v1/agents', (c) => {
    const { workspace } = c.get('principal');
    const agents = [...deps.sessions().entries()].filter(([, s]) => s.workspace === workspace).map(([key, s]) => {
      const hb = s.lastHeartbeat;
      const cp = deps.log.checkpoint(key);
      return {
        agentId: s.agentId,
        sourceId: s.sourceId,
        sourceKind: s.sourceKind,
        version: s.agentVersion,
        connected: s.connected,
        status: !s.connected ? 'disconnected' : hb?.backPressure === true ? 'back-pressure' : 'connected',
        connectedAt: s.connectedAt.toISOString(),
        lastSeen: s.lastSeen.toISOString(),
        ackedSequence: cp?.ackedSequence ?? 0,
        spool: hb === null ? null : { bytes: Number(hb.spoolBytes), limitBytes: Number(hb.spoolLimitBytes), backPressure: hb.backPressure },
        sourcePosition: hb === null ? null : { spooled: lsn(hb.spooledPosition), server: lsn(hb.serverPosition), lagBytes: Number(hb.serverPosition > hb.spooledPosition ? hb.serverPosition - hb.spooledPosition : 0n) },
        // How often the agent writes heartbeats into the source log (0: off; lag then moves only with changes).
        sourceHeartbeatIntervalMs: hb === null ? null : hb.sourceHeartbeatIntervalMs,
      };
    });
    // Registered agents without a stream yet (enrolled or waiting to enroll) are listed too.
    const streaming = new Set(agents.map((a) => a.agentId));
    const idle = deps.security.registry.agents(workspace).filter((a) => !streaming.has(a.id)).map((a) => ({
      agentId: a.id, sourceId: null, sourceKind: null, version: null, connected: false, status: a.revokedAt === null ? 'never-connected' : 'revoked',
      connectedAt: null, lastSeen: null, ackedSequence: 0, spool: null, sourcePosition: null, sourceHeartbeatIntervalMs: null,
    }));
    return c.json({ agents: [...agents, ...idle] });
  });

  app.route('/', pipelineRoutes({ ...deps, pipelines, agents: deps.security.registry, push: deps.push ?? null }));
  app.route('/', snapshotRoutes({ pipelines, ingest: deps.ingest ?? null, tracker: new SnapshotTracker(deps.events ?? null) }));
  app.route('/', inventoryRoutes({ ...deps, pipelines, push: deps.push ?? null }));
  app.route('/', securityRoutes(deps.security, deps.sessions));
  app.route('/', schemaRoutes({ log: deps.log, workspaceOf: (key) => sourceWorkspace(deps, key) }));
  if (deps.alerts !== undefined) app.route('/', alertRoutes(deps.alerts.feed)).route('/', doctorRoutes(deps.alerts.doctor));
  return app;
}
