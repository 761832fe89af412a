/**
 * Bearer-token authentication for `/v1/*` and `/metrics`. A request gets its
 * workspace and scope only from its token; handlers read them from the
 * context and never from the request. Read-only tokens may only GET; every
 * other method needs an admin token. Unknown, malformed and revoked tokens
 * all get the same 401, so the answer tells an attacker nothing.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { ApiTokens, Principal } from '../auth/api-tokens.js';

export interface ApiEnv {
  Variables: { principal: Principal };
}

export function apiError(c: Context, status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 500, code: string, message: string): Response {
  return c.json({ error: { code, message } }, status);
}

export function requireToken(tokens: ApiTokens): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer ([\x21-\x7e]{1,300})$/.exec(header);
    const principal = m?.[1] === undefined ? null : tokens.authenticate(m[1]);
    if (principal === null) {
      c.header('www-authenticate', 'Bearer realm="tributary"');
      return apiError(c, 401, 'UNAUTHENTICATED', 'a valid API token is required: Authorization: Bearer <token>');
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && principal.scope !== 'admin') return apiError(c, 403, 'FORBIDDEN', `a ${principal.scope} token cannot ${c.req.method}; an admin token is required`);
    c.set('principal', principal);
    await next();
  };
}

/** `/metrics` spans every workspace, so only the hub operator's workspace may read it. */
export function requireOperator(operatorWorkspace: string): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (c.get('principal').workspace !== operatorWorkspace) return apiError(c, 403, 'FORBIDDEN', `metrics cover every workspace; use a token of workspace "${operatorWorkspace}"`);
    await next();
  };
}
