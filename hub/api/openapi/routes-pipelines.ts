/** Pipelines (pipeline-routes.ts) and snapshots (snapshot-routes.ts). */
import { arr, bool, int, nullable, obj, ref, str, type RouteDoc } from './spec.js';

const name = 'pipeline name (unique in the workspace)';
const pipeline = obj({ pipeline: ref('Pipeline') });
const tables = nullable(arr(ref('TableName'), 'tables the agent captures for this pipeline; null or absent: the agent\'s own source.tables'));
const command = obj({ command: ref('Command') });
const snapshotParams = { source: '`agent/source` URL-encoded (`agent-1%2Fshop`), or the source id alone when one agent of the workspace has it', table: '`schema.table`' };

export const PIPELINE_ROUTES: readonly RouteDoc[] = [
  { method: 'get', path: '/v1/pipelines', tag: 'pipelines', auth: 'read', summary: 'Pipelines with state, tables, the agent\'s applied set, ingest position and per-sink lag', response: obj({ pipelines: arr(ref('Pipeline')), logHead: int() }) },
  {
    method: 'post',
    path: '/v1/pipelines',
    tag: 'pipelines',
    auth: 'admin',
    summary: 'Create a pipeline: its sinks start applying the source at once; its tables are pushed to the agent',
    status: 201,
    body: obj({ name: str(), agent: str(), source: str(), sinks: arr(str(), 'sinks configured in this workspace'), tables }, ['name', 'agent', 'source', 'sinks']),
    response: pipeline,
    errors: ['UNKNOWN_SINK', 'PIPELINE_EXISTS', 'AGENT_IN_OTHER_WORKSPACE'],
  },
  { method: 'get', path: '/v1/pipelines/{name}', tag: 'pipelines', auth: 'read', params: { name }, summary: 'One pipeline', response: pipeline },
  { method: 'patch', path: '/v1/pipelines/{name}', tag: 'pipelines', auth: 'admin', params: { name }, summary: 'Change sinks and/or tables (tables are pushed to the running agent)', body: obj({ sinks: arr(str()), tables }, []), response: pipeline, errors: ['UNKNOWN_SINK', 'CONFIG_MANAGED'] },
  { method: 'delete', path: '/v1/pipelines/{name}', tag: 'pipelines', auth: 'admin', params: { name }, summary: 'Delete: its sinks stop applying the source', response: obj({ pipeline: obj({ name: str(), deleted: bool() }) }), errors: ['CONFIG_MANAGED'] },
  { method: 'post', path: '/v1/pipelines/{name}/pause', tag: 'pipelines', auth: 'admin', params: { name }, summary: 'Pause: its sinks stop right before the source\'s next change (the agent keeps capturing into the hub log)', response: pipeline },
  { method: 'post', path: '/v1/pipelines/{name}/resume', tag: 'pipelines', auth: 'admin', params: { name }, summary: 'Resume: its sinks continue exactly where they stopped', response: pipeline },
  { method: 'get', path: '/v1/snapshots', tag: 'snapshots', auth: 'read', summary: 'Newest progress of every table snapshot, from the agents\' snapshot.progress events, with ETA', response: obj({ snapshots: arr(ref('Snapshot')) }) },
  { method: 'post', path: '/v1/pipelines/{name}/snapshots', tag: 'snapshots', auth: 'admin', params: { name }, summary: 'Start (or re-run) a snapshot of one table: command snapshot.start to the pipeline\'s agent', status: 202, body: obj({ table: str('`schema.table`, one of the pipeline\'s tables') }), response: command, errors: ['AGENT_NOT_CONNECTED'] },
  ...(['pause', 'resume', 'cancel'] as const).map(
    (a): RouteDoc => ({ method: 'post', path: `/v1/snapshots/{source}/{table}/${a}`, tag: 'snapshots', auth: 'admin', params: snapshotParams, summary: `${a[0]?.toUpperCase()}${a.slice(1)} a table snapshot: command snapshot.${a} to the agent`, status: 202, response: command, errors: ['AGENT_NOT_CONNECTED', 'VALIDATION_FAILED'] }),
  ),
];
