/**
 * Schema history, alerts and the doctor: routes served by their own route
 * files (alert-routes.ts, doctor-routes.ts; schema history by the schema
 * drift work), described here.
 */
import { anyObject, arr, bool, int, nullable, obj, str, type RouteDoc, type Schema } from './spec.js';

const COLUMN_VIEW = obj({ name: str(), type: str('source type'), key: bool() });
const TABLE_SUMMARY = obj({
  agent: str(),
  source: str(),
  schema: str(),
  table: str(),
  version: int('current version'),
  versions: int('number of versions'),
  sincePosition: str('source position (decimal) the current version applies from'),
  firstSeenAt: nullable(str('when the hub first stored version 1', { format: 'date-time' })),
  changedAt: nullable(str('when the hub first stored the current version', { format: 'date-time' })),
});
const DIFF: Schema = obj({
  added: arr(COLUMN_VIEW),
  dropped: arr(COLUMN_VIEW),
  typeChanged: arr(obj({ column: str(), from: str(), to: str(), change: str('', { enum: ['widened', 'incompatible'] }) })),
  keyChanged: nullable(obj({ from: arr(str()), to: arr(str()) })),
  renamed: arr(obj({ from: str(), to: str() }), 'likely renames (a dropped and an added column at the same place with the same type); a hint only'),
});
const VERSION = obj({
  version: int(),
  sincePosition: str('source position (decimal) the version applies from'),
  firstSeenAt: nullable(str('when the hub first stored it', { format: 'date-time' })),
  dialect: str('postgres or mysql'),
  columns: arr(obj({ name: str(), type: str('source type'), kind: str('value kind'), key: bool(), nullable: bool() })),
  key: arr(str()),
  diff: DIFF,
});

export const OPERATIONS_ROUTES: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/v1/schemas',
    tag: 'schemas',
    auth: 'read',
    summary: 'Every captured table of the workspace with its current schema version (read from the hub log)',
    response: obj({ tables: arr(TABLE_SUMMARY) }),
  },
  {
    method: 'get',
    path: '/v1/schemas/{agent}/{source}/{schema}/{table}',
    tag: 'schemas',
    auth: 'read',
    params: { agent: 'agent id', source: 'source id', schema: 'schema (MySQL: database)', table: 'table' },
    summary: 'Schema history of one table: every version with its columns, key, the log position it took effect, when the hub first stored it, and the diff from the previous version',
    response: obj({ agent: str(), source: str(), schema: str(), table: str(), versions: arr(VERSION) }),
    errors: ['NOT_FOUND'],
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
