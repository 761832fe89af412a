/**
 * Schema history, alerts and the doctor: routes served by their own route
 * files (alert-routes.ts, doctor-routes.ts; schema history by the schema
 * drift work), described here.
 */
import { anyObject, arr, obj, str, type RouteDoc } from './spec.js';

export const OPERATIONS_ROUTES: readonly RouteDoc[] = [
  { method: 'get', path: '/v1/schemas', tag: 'schemas', auth: 'read', summary: 'Current schema version of every captured table', response: obj({ schemas: arr(anyObject()) }) },
  {
    method: 'get',
    path: '/v1/schemas/{agent}/{source}/{schema}/{table}',
    tag: 'schemas',
    auth: 'read',
    params: { agent: 'agent id', source: 'source id', schema: 'schema (MySQL: database)', table: 'table' },
    summary: 'Schema history of one table: every version with its columns and the log position it took effect',
    response: anyObject(),
  },
  {
    method: 'get',
    path: '/v1/alerts',
    tag: 'alerts',
    auth: 'read',
    summary: 'Alert feed of the workspace, newest first: open, acknowledged and resolved alerts',
    query: { state: { type: 'string', enum: ['open', 'acknowledged', 'resolved'], description: 'only alerts in this state' }, limit: { type: 'integer', minimum: 1, maximum: 5000, description: 'at most this many (default 500)' } },
    response: obj({ alerts: arr(anyObject()) }),
    errors: ['INVALID_STATE', 'INVALID_LIMIT'],
  },
  { method: 'post', path: '/v1/alerts/{id}/ack', tag: 'alerts', auth: 'admin', params: { id: 'alert id' }, summary: 'Acknowledge an open alert', response: obj({ alert: anyObject() }), errors: ['ALERT_NOT_FOUND', 'ALERT_RESOLVED'] },
  {
    method: 'get',
    path: '/v1/agents/{agent}/doctor',
    tag: 'doctor',
    auth: 'read',
    params: { agent: 'agent id' },
    summary: 'The latest doctor report of each source of the agent (checked every minute while it runs): every finding with its fix',
    response: obj({
      agent: str(),
      sources: arr(
        obj({
          source: str(),
          checkedAt: str(undefined, { format: 'date-time' }),
          receivedAt: str(undefined, { format: 'date-time' }),
          status: str(undefined, { enum: ['ok', 'warning', 'critical'] }),
          findings: arr(obj({ check: str(), severity: str(undefined, { enum: ['ok', 'warning', 'critical'] }), message: str(), fix: str('the statement or setting that fixes it') }, ['check', 'severity', 'message'])),
        }),
      ),
    }),
    errors: ['INVALID_AGENT'],
  },
];
