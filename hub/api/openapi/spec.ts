/**
 * How a route is described, and the OpenAPI 3.1 document built from those
 * descriptions. Each route group has one file of descriptions beside this
 * one (routes-<group>.ts); describing a new route is one entry there, and
 * a unit test fails for any route the app serves without a description.
 */
import { ERROR_CODES, type ApiErrorCode } from '../api-error.js';

export type Schema = Readonly<Record<string, unknown>>;

export interface RouteDoc {
  readonly method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** OpenAPI form: `/v1/pipelines/{name}`. */
  readonly path: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  /** none: no token; read: any token of the workspace; admin: an admin token. */
  readonly auth: 'none' | 'read' | 'admin';
  readonly body?: Schema;
  readonly query?: Readonly<Record<string, Schema & { readonly description: string }>>;
  /** Success status (default 200) and its JSON body (or `text` for text/plain). */
  readonly status?: 200 | 201 | 202;
  readonly response: Schema | 'text';
  /** Error codes besides the ones every route of its kind can answer. */
  readonly errors?: readonly ApiErrorCode[];
  /** Descriptions of the path parameters (all are strings). */
  readonly params?: Readonly<Record<string, string>>;
}

// Small schema builders, so descriptions stay short.
export const str = (description?: string, extra: Schema = {}): Schema => ({ type: 'string', ...(description ? { description } : {}), ...extra });
export const int = (description?: string): Schema => ({ type: 'integer', ...(description ? { description } : {}) });
export const num = (description?: string): Schema => ({ type: 'number', ...(description ? { description } : {}) });
export const bool = (description?: string): Schema => ({ type: 'boolean', ...(description ? { description } : {}) });
export const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] });
export const arr = (items: Schema, description?: string): Schema => ({ type: 'array', items, ...(description ? { description } : {}) });
export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
export const anyObject = (description?: string): Schema => ({ type: 'object', additionalProperties: true, ...(description ? { description } : {}) });
export function obj(properties: Readonly<Record<string, Schema>>, required: readonly string[] = Object.keys(properties), description?: string): Schema {
  return { type: 'object', properties, required: [...required], additionalProperties: false, ...(description ? { description } : {}) };
}

function errorsOf(d: RouteDoc): ApiErrorCode[] {
  const codes = new Set<ApiErrorCode>(d.errors ?? []);
  if (d.auth !== 'none') ['UNAUTHENTICATED', 'FORBIDDEN'].forEach((c) => codes.add(c as ApiErrorCode));
  if (d.body !== undefined) ['BAD_REQUEST', 'VALIDATION_FAILED', 'TOO_LARGE'].forEach((c) => codes.add(c as ApiErrorCode));
  if (d.path.includes('{')) codes.add('NOT_FOUND');
  codes.add('INTERNAL');
  return [...codes];
}

function operation(d: RouteDoc): Record<string, unknown> {
  const params = [...d.path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' }, ...(d.params?.[m[1] as string] ? { description: d.params[m[1] as string] } : {}) }));
  const query = Object.entries(d.query ?? {}).map(([name, s]) => ({ name, in: 'query', required: false, description: s.description, schema: { ...s, description: undefined } }));
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of errorsOf(d)) byStatus.set(ERROR_CODES[code].status, [...(byStatus.get(ERROR_CODES[code].status) ?? []), code]);
  const responses: Record<string, unknown> = {
    [String(d.status ?? 200)]: { description: 'success', content: d.response === 'text' ? { 'text/plain': { schema: { type: 'string' } } } : { 'application/json': { schema: d.response } } },
  };
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0]))
    responses[String(status)] = {
      description: codes.map((c) => `\`${c}\`: ${ERROR_CODES[c].meaning}`).join('; '),
      content: { 'application/json': { schema: { allOf: [ref('Error'), { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: codes } } } } }] } } },
    };
  return {
    operationId: `${d.method}${d.path.replace(/\{([^}]+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
    tags: [d.tag],
    summary: d.summary,
    ...(d.description ? { description: d.description } : {}),
    ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
    ...(d.body ? { requestBody: { required: true, content: { 'application/json': { schema: d.body } } } } : {}),
    security: d.auth === 'none' ? [] : [{ bearer: [] }],
    ...(d.auth === 'admin' ? { 'x-tributary-scope': 'admin' } : {}),
    responses,
  };
}

export function buildDocument(routes: readonly RouteDoc[], schemas: Readonly<Record<string, Schema>>, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const d of routes) {
    const p = (paths[d.path] ??= {});
    if (p[d.method] !== undefined) throw new Error(`${d.method.toUpperCase()} ${d.path} is described twice`);
    p[d.method] = operation(d);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tributary hub API',
      version,
      description:
        'Versioned REST API of the Tributary hub. Every route under /v1 (but this document) needs `Authorization: Bearer <token>`; ' +
        'a token sees only its workspace (another workspace\'s objects answer 404). `read` tokens may only GET. ' +
        'Errors are `{ "error": { "code", "message", "field"? } }` with a stable code.',
    },
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token (admin or read) or a bootstrap admin token from the hub configuration.' } },
      schemas: {
        Error: obj({ error: obj({ code: { type: 'string', enum: Object.keys(ERROR_CODES) }, message: str(), field: str('the request field at fault (validation errors)') }, ['code', 'message']) }),
        ...schemas,
      },
    },
    'x-error-codes': Object.fromEntries(Object.entries(ERROR_CODES).map(([code, v]) => [code, { status: v.status, meaning: v.meaning }])),
  };
}
