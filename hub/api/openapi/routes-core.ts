/** Health, metrics, this document, agents, sources and sinks. */
import { anyObject, arr, int, obj, ref, str, type RouteDoc } from './spec.js';

export const CORE_ROUTES: readonly RouteDoc[] = [
  { method: 'get', path: '/healthz', tag: 'hub', auth: 'none', summary: 'Liveness and the log head', response: obj({ status: str(), hub: str(), logHead: int() }) },
  { method: 'get', path: '/metrics', tag: 'hub', auth: 'read', summary: 'Prometheus text exposition (a token of workspace "default": metrics span every workspace)', response: 'text' },
  { method: 'get', path: '/v1/openapi.json', tag: 'hub', auth: 'none', summary: 'This OpenAPI 3.1 document (no token needed: it holds no workspace data)', response: anyObject() },
  { method: 'get', path: '/v1/agents', tag: 'agents', auth: 'read', summary: 'Agent streams of the workspace: version, status, last seen, spool depth, positions', response: obj({ agents: arr(ref('Agent')) }) },
  { method: 'get', path: '/v1/sources', tag: 'sources', auth: 'read', summary: 'Sources named by pipelines or streaming: status, pipelines, captured tables and the agent\'s applied set', response: obj({ sources: arr(ref('Source')) }) },
  { method: 'get', path: '/v1/sinks', tag: 'sinks', auth: 'read', summary: 'Configured sinks of the workspace and their status', response: obj({ sinks: arr(ref('Sink')), logHead: int() }) },
];
