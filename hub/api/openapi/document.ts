/** The hub's OpenAPI document: every group's route descriptions, built once. */
import { CORE_ROUTES } from './routes-core.js';
import { OPERATIONS_ROUTES } from './routes-operations.js';
import { PIPELINE_ROUTES } from './routes-pipelines.js';
import { SECURITY_ROUTES } from './routes-security.js';
import { SCHEMAS } from './schemas.js';
import { buildDocument, type RouteDoc } from './spec.js';

export const ROUTE_DOCS: readonly RouteDoc[] = [...CORE_ROUTES, ...SECURITY_ROUTES, ...PIPELINE_ROUTES, ...OPERATIONS_ROUTES];

let built: Record<string, unknown> | null = null;

export function openApiDocument(version = '0.1.0'): Record<string, unknown> {
  built ??= buildDocument(ROUTE_DOCS, SCHEMAS, version);
  return built;
}
