/**
 * Routes for agents' credentials and API tokens, all scoped to the caller's
 * workspace: another workspace's agent or token answers 404 exactly like a
 * missing one.
 *
 *   POST /v1/agents                          { id }             admin: register an agent
 *   GET  /v1/agents/:id                                        the agent's record and connections
 *   POST /v1/agents/:id/enrollment-tokens                      admin: a one-time enrollment token
 *   POST /v1/agents/:id/revoke                                 admin: revoke; its streams are closed
 *   GET  /v1/tokens                                            admin: API tokens (never their secrets)
 *   POST /v1/tokens                          { name, scope }    admin: a new token, shown once
 *   POST /v1/tokens/:id/revoke                                 admin: revoke a token
 */
import { Hono } from 'hono';
import type { HubSecurity } from '../auth/hub-security.js';
import type { AgentSession } from '../ingest/ingest-server.js';
import { HubError } from '../errors.js';
import type { ApiEnv } from './auth-middleware.js';
import { jsonObject, stringField } from './json-body.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function adminOnly(scope: string): void {
  if (scope !== 'admin') throw new HubError('forbidden', 'an admin token is required');
}

function pathId(raw: string): string {
  if (!ID.test(raw)) throw new HubError('not-found', 'no such id');
  return raw;
}

export function securityRoutes(security: Pick<HubSecurity, 'registry' | 'apiTokens'>, sessions: () => ReadonlyMap<string, AgentSession>): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const { registry, apiTokens } = security;

  app.post('/v1/agents', async (c) => {
    const body = await jsonObject(c, ['id']);
    const agent = await registry.createAgent(c.get('principal').workspace, stringField(body, 'id', ID, 'an agent id (letters, digits, "_", "-", "."; max 63)'));
    return c.json({ agent }, 201);
  });

  app.get('/v1/agents/:id', (c) => {
    const { workspace } = c.get('principal');
    const agent = registry.agent(workspace, pathId(c.req.param('id')));
    if (agent === undefined) throw new HubError('not-found', `no agent ${c.req.param('id')}`);
    const streams = [...sessions().values()].filter((s) => s.agentId === agent.id && s.workspace === workspace).map((s) => ({ sourceId: s.sourceId, connected: s.connected, lastSeen: s.lastSeen.toISOString() }));
    return c.json({ agent, streams });
  });

  app.post('/v1/agents/:id/enrollment-tokens', async (c) => {
    const { workspace, scope } = c.get('principal');
    adminOnly(scope);
    const t = await registry.createEnrollmentToken(workspace, pathId(c.req.param('id')));
    return c.json({ ...t, caFingerprint: registry.ca.fingerprint }, 201);
  });

  app.post('/v1/agents/:id/revoke', async (c) => {
    const { workspace, scope } = c.get('principal');
    adminOnly(scope);
    return c.json({ agent: await registry.revokeAgent(workspace, pathId(c.req.param('id'))) });
  });

  app.get('/v1/tokens', (c) => {
    const { workspace, scope } = c.get('principal');
    adminOnly(scope);
    return c.json({ tokens: apiTokens.list(workspace) });
  });

  app.post('/v1/tokens', async (c) => {
    const { workspace } = c.get('principal');
    const body = await jsonObject(c, ['name', 'scope']);
    const name = stringField(body, 'name', /^[\x20-\x7e]{1,100}$/, 'a name of 1-100 printable ASCII characters');
    const scope = stringField(body, 'scope', /^(admin|read)$/, '"admin" or "read"', 'read') as 'admin' | 'read';
    const { token, record } = await apiTokens.create(workspace, scope, name);
    return c.json({ token, record }, 201);
  });

  app.post('/v1/tokens/:id/revoke', async (c) => {
    const { workspace } = c.get('principal');
    return c.json({ token: await apiTokens.revoke(workspace, pathId(c.req.param('id'))) });
  });
  return app;
}
