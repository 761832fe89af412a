/**
 * The API's error answers: `{ error: { code, message, field? } }` with a
 * stable UPPER_SNAKE code. Every code the API can send is listed here once,
 * with its HTTP status and meaning (routes that answer with c.json directly
 * use these codes too); the OpenAPI document and the README are written
 * from this table.
 */
import { HubError, type HubErrorKind } from '../errors.js';

export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, kind: 'bad-request', meaning: 'the body is not JSON, not an object, or has an unknown field' },
  VALIDATION_FAILED: { status: 400, kind: 'bad-request', meaning: 'a field has a missing or bad value; `field` names it (a JSON path such as `tables[2]`)' },
  UNKNOWN_SINK: { status: 400, kind: 'bad-request', meaning: 'a sink named in `sinks` is not configured in this workspace; `field` names it' },
  INVALID_STATE: { status: 400, kind: 'bad-request', meaning: 'GET /v1/alerts: `state` is not open, acknowledged or resolved' },
  INVALID_LIMIT: { status: 400, kind: 'bad-request', meaning: 'GET /v1/alerts: `limit` is not an integer from 1 to 5000' },
  INVALID_AGENT: { status: 400, kind: 'bad-request', meaning: 'the agent id in the path is not an agent id' },
  UNAUTHENTICATED: { status: 401, kind: 'unauthenticated', meaning: 'no valid API token (missing, malformed, unknown or revoked)' },
  FORBIDDEN: { status: 403, kind: 'forbidden', meaning: 'the token may not do this (a read token writing, an admin-only route, metrics outside the operator workspace)' },
  NOT_FOUND: { status: 404, kind: 'not-found', meaning: 'no such route, or no such object in this workspace (another workspace\'s objects answer the same)' },
  ALERT_NOT_FOUND: { status: 404, kind: 'not-found', meaning: 'no such alert in this workspace' },
  CONFLICT: { status: 409, kind: 'conflict', meaning: 'the request conflicts with the current state (e.g. an agent id already registered)' },
  CONFIG_MANAGED: { status: 409, kind: 'conflict', meaning: 'the pipeline is defined in the hub configuration file: change or delete it there (pause and resume work through the API)' },
  PIPELINE_EXISTS: { status: 409, kind: 'conflict', meaning: 'a pipeline with this name already exists in the workspace' },
  AGENT_IN_OTHER_WORKSPACE: { status: 409, kind: 'conflict', meaning: 'the agent is registered to, or named by a pipeline of, another workspace; pipelines never route across workspaces' },
  ALERT_RESOLVED: { status: 409, kind: 'conflict', meaning: 'the alert is already resolved; it cannot be acknowledged' },
  AGENT_NOT_CONNECTED: { status: 409, kind: 'conflict', meaning: 'the command needs the agent connected, and it is not' },
  TOO_LARGE: { status: 413, kind: 'message-too-large', meaning: 'the body is larger than 64 KiB' },
  INTERNAL: { status: 500, kind: 'internal', meaning: 'an unexpected failure; details are in the hub log, never in the answer' },
} as const satisfies Record<string, { status: number; kind: HubErrorKind; meaning: string }>;

export type ApiErrorCode = keyof typeof ERROR_CODES;
export type ApiStatus = (typeof ERROR_CODES)[ApiErrorCode]['status'];

/** A HubError that knows its API code and, for validation, the field at fault. */
export class ApiError extends HubError {
  readonly status: ApiStatus;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
    options?: ErrorOptions,
  ) {
    super(ERROR_CODES[code].kind, message, options);
    this.status = ERROR_CODES[code].status;
  }
}

export function invalid(field: string, message: string): ApiError {
  return new ApiError('VALIDATION_FAILED', `${field}: ${message}`, field);
}
