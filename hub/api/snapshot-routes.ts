/**
 * Snapshots, relayed to the agents over the control channel (the agent runs
 * them; the hub shows their progress from the agents' events).
 *
 *   GET  /v1/snapshots                                   newest progress per table, with ETA
 *   POST /v1/pipelines/:name/snapshots  { table }        command snapshot.start to the pipeline's agent
 *   POST /v1/snapshots/:source/:table/pause|resume|cancel
 *
 * `:source` is `agent/source` (URL-encoded: `agent-1%2Fshop`) or just the
 * source id when one agent in the workspace has it.
 */
import { Hono } from 'hono';
import type { IngestServer } from '../ingest/ingest-server.js';
import type { PipelineRegistry } from '../pipelines/pipeline-registry.js';
import { sourceKeyOfPipeline, tableMatches } from '../pipelines/pipeline.js';
import { ApiError, invalid } from './api-error.js';
import type { ApiEnv } from './auth-middleware.js';
import { jsonObject } from './json-body.js';
import { pipelineName } from './pipeline-body.js';
import type { SnapshotTracker } from './snapshot-tracker.js';

const TABLE = /^[A-Za-z0-9_$]{1,63}\.[A-Za-z0-9_$]{1,63}$/;

export interface SnapshotRouteDeps {
  readonly pipelines: PipelineRegistry;
  readonly ingest: Pick<IngestServer, 'sendCommand'> | null;
  readonly tracker: SnapshotTracker;
}

export function snapshotRoutes(deps: SnapshotRouteDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  const send = (sourceKey: string, kind: string, table: string): { id: string; kind: string; source: string; table: string } => {
    const id = deps.ingest?.sendCommand(sourceKey, kind, { table }) ?? null;
    if (id === null) throw new ApiError('AGENT_NOT_CONNECTED', `the agent of ${sourceKey} is not connected; try again when it is`);
    return { id, kind, source: sourceKey, table };
  };

  app.get('/v1/snapshots', (c) => c.json({ snapshots: deps.tracker.list(c.get('principal').workspace) }));

  app.post('/v1/pipelines/:name/snapshots', async (c) => {
    const { workspace } = c.get('principal');
    const p = deps.pipelines.get(workspace, pipelineName(c.req.param('name')));
    if (p === undefined) throw new ApiError('NOT_FOUND', `no pipeline ${JSON.stringify(c.req.param('name'))}`);
    const body = await jsonObject(c, ['table']);
    const table = body['table'];
    if (typeof table !== 'string' || !TABLE.test(table)) throw invalid('table', 'expected "schema.table"');
    const [schema = '', name = ''] = table.split('.');
    if (p.tables !== null && !tableMatches(p.tables, schema, name)) throw invalid('table', `${table} is not among the pipeline's tables (${p.tables.join(', ') || 'none'})`);
    return c.json({ command: send(sourceKeyOfPipeline(p), 'snapshot.start', table) }, 202);
  });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(`/v1/snapshots/:source/:table/${action}`, (c) => {
      const { workspace } = c.get('principal');
      const raw = c.req.param('source');
      const table = c.req.param('table');
      if (!TABLE.test(table)) throw new ApiError('NOT_FOUND', `no table ${JSON.stringify(table.slice(0, 80))}`);
      const mine = deps.pipelines.list(workspace).map(sourceKeyOfPipeline);
      const keys = [...new Set(raw.includes('/') ? mine.filter((k) => k === raw) : mine.filter((k) => k.endsWith(`/${raw}`)))];
      if (keys.length === 0) throw new ApiError('NOT_FOUND', `no source ${JSON.stringify(raw.slice(0, 130))} in this workspace's pipelines`);
      if (keys.length > 1) throw new ApiError('VALIDATION_FAILED', `source ${JSON.stringify(raw)} is ambiguous (${keys.join(', ')}): name it as agent/source`, 'source');
      return c.json({ command: send(keys[0] as string, `snapshot.${action}`, table) }, 202);
    });
  }
  return app;
}
