/**
 * Schema history: `GET /v1/schemas` lists every captured table of the
 * token's workspace with its current version; `GET /v1/schemas/:agent/:source/:schema/:table`
 * returns every version (columns, types, key, since position, first seen
 * time, diff from the previous one). Answered from the hub log, so it works
 * the same on the embedded and the Kafka log and after a restart.
 */
import { Hono } from 'hono';
import type { IngestLog } from '../log/change-log.js';
import { groupByTable, summaries, tableKey, versionViews } from '../schemas/schema-history.js';
import type { ApiDeps } from './app.js';
import { apiError, type ApiEnv } from './auth-middleware.js';

export interface SchemaRouteDeps {
  readonly log: Pick<IngestLog, 'schemaRecords'>;
  /** The workspace a source (`agent/source`) belongs to, or undefined when the hub does not know it. */
  readonly workspaceOf: (sourceKey: string) => string | undefined;
}

/** From the agent's registration, else its open stream, else the pipelines that name it. */
export function sourceWorkspace(deps: Pick<ApiDeps, 'security' | 'sessions' | 'config'>, sourceKey: string): string | undefined {
  const agent = sourceKey.slice(0, sourceKey.indexOf('/'));
  const source = sourceKey.slice(sourceKey.indexOf('/') + 1);
  return (
    deps.security.registry.agentRecord(agent)?.workspace ??
    deps.sessions().get(sourceKey)?.workspace ??
    deps.config.pipelines.find((p) => p.agent === agent && p.source === source)?.workspace
  );
}

export function schemaRoutes(deps: SchemaRouteDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get('/v1/schemas', (c) => {
    const { workspace } = c.get('principal');
    return c.json({ tables: summaries(deps.log, (key) => deps.workspaceOf(key) === workspace) });
  });
  app.get('/v1/schemas/:agent/:source/:schema/:table', (c) => {
    const { workspace } = c.get('principal');
    const { agent, source, schema, table } = c.req.param();
    const sourceKey = `${agent}/${source}`;
    const list = deps.workspaceOf(sourceKey) === workspace ? groupByTable(deps.log.schemaRecords().filter((r) => r.sourceKey === sourceKey)).get(tableKey(sourceKey, schema, table)) : undefined;
    // Another workspace's table is indistinguishable from a missing one.
    if (list === undefined) return apiError(c, 404, 'NOT_FOUND', `no schema history for table ${schema}.${table} of source ${sourceKey}`);
    return c.json({ agent, source, schema, table, versions: versionViews(list) });
  });
  return app;
}
