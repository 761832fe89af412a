/**
 * The alert feed of the caller's workspace.
 *
 *   GET  /v1/alerts[?state=open|acknowledged|resolved][&limit=N]   newest first
 *   POST /v1/alerts/:id/ack                                          open → acknowledged
 */
import { Hono } from 'hono';
import type { AlertState } from '../alerts/alert.js';
import type { AlertFeed } from '../alerts/alert-feed.js';
import type { ApiEnv } from './auth-middleware.js';

const STATES: readonly AlertState[] = ['open', 'acknowledged', 'resolved'];

export function alertRoutes(feed: AlertFeed, now: () => number = Date.now): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  app.get('/v1/alerts', (c) => {
    const state = c.req.query('state');
    if (state !== undefined && !STATES.includes(state as AlertState))
      return c.json({ error: { code: 'INVALID_STATE', message: `state must be one of ${STATES.join(', ')}`, field: 'state' } }, 400);
    const limitText = c.req.query('limit') ?? '500';
    const limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : 0;
    if (limit < 1 || limit > 5000) return c.json({ error: { code: 'INVALID_LIMIT', message: 'limit must be an integer from 1 to 5000', field: 'limit' } }, 400);
    return c.json({ alerts: feed.list(c.get('principal').workspace, state as AlertState | undefined, limit) });
  });

  app.post('/v1/alerts/:id/ack', async (c) => {
    const id = c.req.param('id');
    const alert = feed.get(id);
    const { workspace } = c.get('principal');
    // Another workspace's alert answers exactly like a missing one.
    if (alert === undefined || alert.workspace !== workspace) return c.json({ error: { code: 'ALERT_NOT_FOUND', message: `no alert ${id.slice(0, 40)}` } }, 404);
    if (alert.state === 'resolved') return c.json({ error: { code: 'ALERT_RESOLVED', message: `alert ${id} is already resolved` } }, 409);
    return c.json({ alert: await feed.ack(workspace, id, now()) });
  });
  return app;
}
