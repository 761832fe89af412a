/**
 * Schema history, alerts and the doctor: routes served by their own route
 * files (schema-routes.ts, alert-routes.ts, doctor-routes.ts), described
 * here with the contract agreed for them.
 */
import { anyObject, arr, obj, type RouteDoc } from './spec.js';

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
  { method: 'get', path: '/v1/alerts', tag: 'alerts', auth: 'read', summary: 'Alert feed: open, acknowledged and resolved alerts', response: obj({ alerts: arr(anyObject()) }) },
  { method: 'post', path: '/v1/alerts/{id}/ack', tag: 'alerts', auth: 'admin', params: { id: 'alert id' }, summary: 'Acknowledge an alert', response: anyObject() },
  { method: 'get', path: '/v1/agents/{agent}/doctor', tag: 'doctor', auth: 'read', params: { agent: 'agent id' }, summary: 'The agent\'s latest doctor findings (source settings checked before and during the run), each with its fix', response: anyObject() },
];
