/**
 * The hub's HTTP API (hono): health, Prometheus metrics, connected agents,
 * pipelines with positions and lag, and (security-routes.ts) agents'
 * credentials and API tokens. Every route but /healthz needs a bearer token
 * and answers only about that token's workspace (auth-middleware.ts).
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { HubSecurity } from '../auth/hub-security.js';
import { HubError } from '../errors.js';
import { apiError, requireOperator, requireToken, type ApiEnv } from './auth-middleware.js';
import { MAX_BODY_BYTES } from './json-body.js';
import { securityRoutes } from './security-routes.js';
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
  /** The hub's event bus (hub/events); absent in tests that need none. */
  readonly events?: HubEvents | undefined;
  /** Sends commands to connected agents (`sendCommand`); absent in tests without ingest. */
  readonly ingest?: Pick<IngestServer, 'sendCommand'> | undefined;
}

function lsn(v: bigint): string {
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function createApi(deps: ApiDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.onError((err, c) => (err instanceof HubError ? apiError(c, ...statusOf(err.kind), err.message) : apiError(c, 500, 'INTERNAL', 'internal error')));
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  // /healthz stays open for load balancers and says nothing about any workspace.
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
        connectedAt: s.connectedAt.toISOString(),
        lastSeen: s.lastSeen.toISOString(),
        ackedSequence: cp?.ackedSequence ?? 0,
        spool: hb === null ? null : { bytes: Number(hb.spoolBytes), limitBytes: Number(hb.spoolLimitBytes), backPressure: hb.backPressure },
        sourcePosition: hb === null ? null : { spooled: lsn(hb.spooledPosition), server: lsn(hb.serverPosition), lagBytes: Number(hb.serverPosition > hb.spooledPosition ? hb.serverPosition - hb.spooledPosition : 0n) },
      };
    });
    return c.json({ agents });
  });

  app.get('/v1/pipelines', (c) => {
    const sinks = new Map(deps.sinks().map((s) => [s.sink, s]));
    const head = deps.log.headOffset();
    const now = Date.now();
    const { workspace } = c.get('principal');
    const pipelines = deps.config.pipelines.filter((p) => p.workspace === workspace).map((p) => {
      const key = `${p.agent}/${p.source}`;
      const cp = deps.log.checkpoint(key);
      const session = deps.sessions().get(key);
      return {
        name: p.name,
        agent: p.agent,
        source: p.source,
        connected: session?.connected ?? false,
        ingest: { ackedSequence: cp?.ackedSequence ?? 0, sourcePosition: cp === undefined ? null : lsn(cp.sourcePosition), logOffset: cp?.lastOffset ?? 0 },
        sinks: p.sinks.map((name) => {
          const s = sinks.get(name);
          const caughtUp = s !== undefined && s.offset >= head;
          return {
            name,
            offset: s?.offset ?? 0,
            lagBatches: Math.max(0, head - (s?.offset ?? 0)),
            lagSeconds: s === undefined || s.lastCommitTimeUs === 0 || caughtUp ? 0 : Math.max(0, now / 1000 - s.lastCommitTimeUs / 1e6),
            lastAppliedAt: s === undefined || s.appliedAt === 0 ? null : new Date(s.appliedAt).toISOString(),
            failing: s?.failing ?? false,
            lastError: s?.lastError ?? null,
          };
        }),
      };
    });
    return c.json({ pipelines, logHead: head });
  });
  app.route('/', securityRoutes(deps.security, deps.sessions));
  return app;
}
