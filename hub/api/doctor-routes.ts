/**
 * The latest doctor report of each source of an agent, as the agent sent it
 * (the agent checks its source every minute).
 *
 *   GET /v1/agents/:agent/doctor   { agent, sources: [{ source, checkedAt, receivedAt, status, findings }] }
 */
import { Hono } from 'hono';
import type { DoctorStore } from '../alerts/doctor-store.js';
import type { ApiEnv } from './auth-middleware.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function doctorRoutes(doctor: DoctorStore): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get('/v1/agents/:agent/doctor', (c) => {
    const agent = c.req.param('agent');
    if (!ID.test(agent)) return c.json({ error: { code: 'INVALID_AGENT', message: 'agent must be an agent id (letters, digits, "_", "-", "."; max 63)', field: 'agent' } }, 400);
    const sources = doctor.forAgent(c.get('principal').workspace, agent).map((e) => ({
      source: e.source.slice(agent.length + 1),
      checkedAt: e.checkedAt,
      receivedAt: e.receivedAt,
      status: e.findings.some((f) => f.severity === 'critical') ? 'critical' : e.findings.some((f) => f.severity === 'warning') ? 'warning' : 'ok',
      findings: e.findings,
    }));
    return c.json({ agent, sources });
  });
  return app;
}
