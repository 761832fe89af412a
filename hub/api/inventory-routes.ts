/**
 * Sources and sinks of the caller's workspace, with their status.
 *
 *   GET /v1/sources   every source a pipeline names or an agent streams: connection, position, applied tables
 *   GET /v1/sinks     every configured sink: status (ok / failing / paused / idle), offset, lag, last error
 */
import { Hono } from 'hono';
import type { HubConfig } from '../config.js';
import type { AgentSession } from '../ingest/ingest-server.js';
import type { IngestLog } from '../log/change-log.js';
import type { PipelinePush } from '../pipelines/agent-push.js';
import type { PipelineRegistry } from '../pipelines/pipeline-registry.js';
import { sourceKeyOfPipeline } from '../pipelines/pipeline.js';
import type { SinkWorkerStatus } from '../sinks/worker.js';
import type { ApiEnv } from './auth-middleware.js';
import { lsn } from './pipeline-view.js';

export interface InventoryRouteDeps {
  readonly config: HubConfig;
  readonly pipelines: PipelineRegistry;
  readonly log: IngestLog;
  readonly sessions: () => ReadonlyMap<string, AgentSession>;
  readonly sinks: () => readonly SinkWorkerStatus[];
  readonly push: Pick<PipelinePush, 'state'> | null;
}

export function inventoryRoutes(deps: InventoryRouteDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  app.get('/v1/sources', (c) => {
    const { workspace } = c.get('principal');
    const pipelines = deps.pipelines.list(workspace);
    const sessions = deps.sessions();
    const keys = new Set([...pipelines.map(sourceKeyOfPipeline), ...[...sessions].filter(([, s]) => s.workspace === workspace).map(([k]) => k)]);
    const sources = [...keys].sort().map((key) => {
      const s = sessions.get(key);
      const cp = deps.log.checkpoint(key);
      const [agent = '', source = ''] = key.split('/');
      return {
        key,
        agent,
        source,
        kind: s?.sourceKind ?? null,
        status: s === undefined ? 'never-connected' : s.connected ? (s.lastHeartbeat?.backPressure === true ? 'back-pressure' : 'streaming') : 'disconnected',
        lastSeen: s?.lastSeen.toISOString() ?? null,
        pipelines: pipelines.filter((p) => sourceKeyOfPipeline(p) === key).map((p) => p.name),
        tables: deps.pipelines.tablesForSource(key),
        agentTables: deps.push?.state(key) ?? null,
        ingest: { ackedSequence: cp?.ackedSequence ?? 0, sourcePosition: cp === undefined ? null : lsn(cp.sourcePosition), logOffset: cp?.lastOffset ?? 0 },
      };
    });
    return c.json({ sources });
  });

  app.get('/v1/sinks', (c) => {
    const { workspace } = c.get('principal');
    const status = new Map(deps.sinks().map((s) => [s.sink, s]));
    const head = deps.log.headOffset();
    const pipelines = deps.pipelines.list(workspace);
    const sinks = deps.config.sinks
      .filter((s) => ('workspace' in s ? s.workspace : 'default') === workspace)
      .map((s) => {
        const w = status.get(s.name);
        const feeding = pipelines.filter((p) => p.sinks.includes(s.name));
        const paused = feeding.length > 0 && feeding.some((p) => p.state === 'paused');
        return {
          name: s.name,
          kind: s.kind,
          status: w?.failing === true ? 'failing' : paused ? 'paused' : feeding.length === 0 ? 'idle' : 'ok',
          pipelines: feeding.map((p) => p.name),
          offset: w?.offset ?? 0,
          lagBatches: Math.max(0, head - (w?.offset ?? 0)),
          lastAppliedAt: w === undefined || w.appliedAt === 0 ? null : new Date(w.appliedAt).toISOString(),
          lastError: w?.lastError ?? null,
        };
      });
    return c.json({ sinks, logHead: head });
  });
  return app;
}
