/**
 * Pipelines of the caller's workspace: list, read, create, change (sinks,
 * tables), pause, resume, delete. Changes are durable in the hub's state
 * before the answer; sink drivers and the agent push follow them at run time.
 * Pipelines of the configuration file are changed there (CONFIG_MANAGED
 * here), but paused and resumed here.
 *
 *   GET    /v1/pipelines                       every pipeline with positions and lag
 *   POST   /v1/pipelines          { name, agent, source, sinks, tables? }
 *   GET    /v1/pipelines/:name
 *   PATCH  /v1/pipelines/:name    { sinks?, tables? }
 *   DELETE /v1/pipelines/:name
 *   POST   /v1/pipelines/:name/pause | /resume
 */
import { Hono, type Context } from 'hono';
import type { AgentRegistry } from '../auth/agent-registry.js';
import type { HubConfig } from '../config.js';
import type { AgentSession } from '../ingest/ingest-server.js';
import type { IngestLog } from '../log/change-log.js';
import type { PipelinePush } from '../pipelines/agent-push.js';
import type { PipelineRegistry } from '../pipelines/pipeline-registry.js';
import { PIPELINE_NAME, type PipelineRecord } from '../pipelines/pipeline.js';
import type { SinkWorkerStatus } from '../sinks/worker.js';
import { ApiError } from './api-error.js';
import type { ApiEnv } from './auth-middleware.js';
import { jsonObject } from './json-body.js';
import { nameField, pipelineName, sinksField, tablesField } from './pipeline-body.js';
import { pipelineView, viewContext } from './pipeline-view.js';

export interface PipelineRouteDeps {
  readonly config: HubConfig;
  readonly pipelines: PipelineRegistry;
  readonly log: IngestLog;
  readonly sessions: () => ReadonlyMap<string, AgentSession>;
  readonly sinks: () => readonly SinkWorkerStatus[];
  readonly agents: Pick<AgentRegistry, 'agentRecord'>;
  readonly push: Pick<PipelinePush, 'state'> | null;
}

export function pipelineRoutes(deps: PipelineRouteDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const view = (p: PipelineRecord): Record<string, unknown> => pipelineView(p, viewContext(deps.log, deps.sessions(), deps.sinks(), (k) => deps.push?.state(k) ?? null));
  const workspaceSinks = (workspace: string): Set<string> => new Set(deps.config.sinks.filter((s) => ('workspace' in s ? s.workspace : 'default') === workspace).map((s) => s.name));
  const missing = (c: Context<ApiEnv>) => () => new ApiError('NOT_FOUND', `no pipeline ${JSON.stringify(c.req.param('name'))}`);
  // The configuration file defines its pipelines; the API only pauses and resumes them.
  const notFromFile = (p: PipelineRecord): void => {
    if (p.origin === 'config') throw new ApiError('CONFIG_MANAGED', `pipeline ${JSON.stringify(p.name)} is defined in the hub configuration file; change it there (pause and resume work here)`);
  };

  app.get('/v1/pipelines', (c) => {
    const ctx = viewContext(deps.log, deps.sessions(), deps.sinks(), (k) => deps.push?.state(k) ?? null);
    return c.json({ pipelines: deps.pipelines.list(c.get('principal').workspace).map((p) => pipelineView(p, ctx)), logHead: ctx.head });
  });

  app.post('/v1/pipelines', async (c) => {
    const { workspace } = c.get('principal');
    const body = await jsonObject(c, ['name', 'agent', 'source', 'sinks', 'tables']);
    const name = nameField(body, 'name', PIPELINE_NAME);
    const agent = nameField(body, 'agent');
    const source = nameField(body, 'source');
    const sinks = sinksField(body, workspaceSinks(workspace));
    const tables = body['tables'] === undefined ? null : tablesField(body);
    const registered = deps.agents.agentRecord(agent);
    // Another workspace's pipeline naming the agent counts too: ingest would then refuse the agent's stream.
    const foreign = (registered !== undefined && registered.workspace !== workspace) || deps.pipelines.workspacesOfAgent(agent).some((w) => w !== workspace);
    if (foreign) throw new ApiError('AGENT_IN_OTHER_WORKSPACE', 'the agent is registered to another workspace; pipelines never route across workspaces', 'agent');
    const p = await deps.pipelines.create(workspace, name, { agent, source, sinks, tables }, (existing) => {
      if (existing !== undefined) throw new ApiError('PIPELINE_EXISTS', `a pipeline named ${JSON.stringify(name)} already exists`, 'name');
    });
    return c.json({ pipeline: view(p) }, 201);
  });

  app.get('/v1/pipelines/:name', (c) => {
    const p = deps.pipelines.get(c.get('principal').workspace, pipelineName(c.req.param('name')));
    if (p === undefined) throw missing(c)();
    return c.json({ pipeline: view(p) });
  });

  app.patch('/v1/pipelines/:name', async (c) => {
    const { workspace } = c.get('principal');
    const name = pipelineName(c.req.param('name'));
    const body = await jsonObject(c, ['sinks', 'tables']);
    if (Object.keys(body).length === 0) throw new ApiError('VALIDATION_FAILED', 'nothing to change: give sinks and/or tables', 'sinks');
    const sinks = body['sinks'] === undefined ? undefined : sinksField(body, workspaceSinks(workspace));
    const tables = body['tables'] === undefined ? undefined : tablesField(body);
    const p = await deps.pipelines.update(
      workspace,
      name,
      (cur) => {
        notFromFile(cur);
        return { ...(sinks === undefined ? {} : { sinks }), ...(tables === undefined ? {} : { tables }) };
      },
      missing(c),
    );
    return c.json({ pipeline: view(p) });
  });

  app.delete('/v1/pipelines/:name', async (c) => {
    const p = await deps.pipelines.delete(c.get('principal').workspace, pipelineName(c.req.param('name')), missing(c), notFromFile);
    return c.json({ pipeline: { name: p.name, deleted: true } });
  });

  for (const action of ['pause', 'resume'] as const) {
    app.post(`/v1/pipelines/:name/${action}`, async (c) => {
      const p = await deps.pipelines.setState(c.get('principal').workspace, pipelineName(c.req.param('name')), action === 'pause' ? 'paused' : 'active', missing(c));
      return c.json({ pipeline: view(p) });
    });
  }
  return app;
}
