import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Hono } from 'hono';
import { AlertFeed } from '../alerts/alert-feed.js';
import { AlertStore } from '../alerts/alert-store.js';
import { DoctorStore } from '../alerts/doctor-store.js';
import { alertRoutes } from './alert-routes.js';
import type { ApiEnv } from './auth-middleware.js';
import { doctorRoutes } from './doctor-routes.js';

function appFor(workspace: string, feed: AlertFeed, doctor: DoctorStore): Hono<ApiEnv> {
  return new Hono<ApiEnv>()
    .use(async (c, next) => {
      c.set('principal', { workspace, scope: 'admin', tokenId: 't' });
      await next();
    })
    .route('/', alertRoutes(feed))
    .route('/', doctorRoutes(doctor));
}

describe('alert and doctor routes', () => {
  let dir: string;
  let store: AlertStore;
  let feed: AlertFeed;
  const doctor = new DoctorStore();
  let ids: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-alert-routes-'));
    store = new AlertStore(dir);
    feed = new AlertFeed(store, 100);
    const base = { rule: 'sinkFailing' as const, workspace: 'acme', severity: 'critical' as const, title: 't', message: 'm', source: null, sink: 'dw', table: null, data: {}, autoResolve: true };
    ids = [];
    for (const key of ['a', 'b', 'c']) ids.push((await feed.raise({ ...base, key }, 1000))?.alert.id ?? '');
    await feed.resolve('c', 2000);
    doctor.put({ source: 'edge/db', workspace: 'acme', checkedAt: '2026-01-01T00:00:00Z', receivedAt: '2026-01-01T00:00:01Z', findings: [{ check: 'wal_level', severity: 'critical', message: 'replica', fix: 'ALTER SYSTEM SET wal_level = logical;' }] });
  });
  after(async () => {
    await store[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the workspace alerts, filtered by state; a bad filter names the field', async () => {
    const app = appFor('acme', feed, doctor);
    const all = (await (await app.request('/v1/alerts')).json()) as { alerts: { id: string; state: string }[] };
    assert.equal(all.alerts.length, 3);
    const resolved = (await (await app.request('/v1/alerts?state=resolved')).json()) as { alerts: { id: string }[] };
    assert.deepEqual(resolved.alerts.map((a) => a.id), [ids[2]]);
    const bad = await app.request('/v1/alerts?state=closed');
    assert.equal(bad.status, 400);
    assert.deepEqual(((await bad.json()) as { error: { code: string; field: string } }).error.field, 'state');
    assert.equal((await appFor('other', feed, doctor).request('/v1/alerts')).status, 200);
    assert.deepEqual(((await (await appFor('other', feed, doctor).request('/v1/alerts')).json()) as { alerts: unknown[] }).alerts, []);
  });

  it('acknowledges; another workspace gets 404, a resolved alert 409', async () => {
    const app = appFor('acme', feed, doctor);
    const ok = await app.request(`/v1/alerts/${ids[0]}/ack`, { method: 'POST' });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { alert: { state: string } }).alert.state, 'acknowledged');
    const other = await appFor('other', feed, doctor).request(`/v1/alerts/${ids[1]}/ack`, { method: 'POST' });
    assert.equal(other.status, 404);
    assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'ALERT_NOT_FOUND');
    const done = await app.request(`/v1/alerts/${ids[2]}/ack`, { method: 'POST' });
    assert.equal(done.status, 409);
    assert.equal(((await done.json()) as { error: { code: string } }).error.code, 'ALERT_RESOLVED');
  });

  it("serves an agent's latest doctor findings to its workspace only", async () => {
    const r = (await (await appFor('acme', feed, doctor).request('/v1/agents/edge/doctor')).json()) as { sources: { source: string; status: string; findings: { fix?: string }[] }[] };
    assert.equal(r.sources[0]?.source, 'db');
    assert.equal(r.sources[0]?.status, 'critical');
    assert.equal(r.sources[0]?.findings[0]?.fix, 'ALTER SYSTEM SET wal_level = logical;');
    const other = (await (await appFor('other', feed, doctor).request('/v1/agents/edge/doctor')).json()) as { sources: unknown[] };
    assert.deepEqual(other.sources, []);
  });
});
