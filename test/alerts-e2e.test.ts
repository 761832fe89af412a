/**
 * Alerts end to end with the real hub and agent processes, a private
 * PostgreSQL and a real HTTP webhook receiver: the agent's continuous doctor
 * reports a captured table without a key (alert opened, visible through the
 * API with its fix) and the fix (alert resolved); stopping the agent opens an
 * "agent disconnected" alert that is delivered, acknowledged through the API
 * and resolved (and delivered) when the agent comes back.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startPostgres, type PgInstance } from './support/postgres.js';
import { agentProcess, apiFetch, freePort, httpJson, hubProcess, tempDir, waitFor, type ManagedProcess } from './support/pipeline.js';
import { WebhookReceiver, type Received } from './support/webhook-receiver.js';

interface Delivery {
  type: string;
  alert: { id: string; rule: string; key: string; state: string; message: string; acknowledgedAt: string | null };
}
interface Alert {
  id: string;
  rule: string;
  key: string;
  state: string;
  acknowledgedAt: string | null;
}

const deliveries = (r: readonly Received[], path = '/hook'): Delivery[] => r.filter((x) => x.path === path && x.status === 200).map((x) => x.body as Delivery);

describe('alerts end to end', { timeout: 300_000 }, () => {
  let pgi: PgInstance;
  let src: pg.Pool;
  let receiver: WebhookReceiver;
  let hub: ManagedProcess;
  let agent: ManagedProcess;
  let httpPort: number;
  let dir: string;

  before(async () => {
    pgi = await startPostgres({ walLevel: 'logical' });
    await pgi.createDatabase('src');
    await pgi.createDatabase('dst');
    src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 2 });
    src.on('error', () => undefined);
    await src.query('CREATE TABLE public.orders (id int PRIMARY KEY, note text); CREATE TABLE public.nokey (a int)');
    receiver = await WebhookReceiver.start();
    dir = tempDir('alerts-e2e');
    const grpcPort = await freePort();
    httpPort = await freePort();
    hub = hubProcess({
      dir: join(dir, 'hub'),
      grpcPort,
      httpPort,
      sinkPort: pgi.port,
      sinkDatabase: 'dst',
      agentId: 'agent-1',
      sourceId: 'src',
      alerts: {
        evaluateSeconds: 1,
        rules: { agentDisconnected: { seconds: 3 } },
        webhooks: [
          { name: 'ops', kind: 'json', url: receiver.url('/hook'), backoffMs: 100 },
          { name: 'chat', kind: 'slack', url: receiver.url('/slack'), minSeverity: 'critical', backoffMs: 100 },
        ],
      },
    });
    agent = agentProcess({ dir: join(dir, 'agent'), hubPort: grpcPort, sourcePort: pgi.port, sourceDatabase: 'src', agentId: 'agent-1', sourceId: 'src', slot: 'alerts_e2e', doctor: { intervalSeconds: 2 } });
    hub.start();
    agent.start();
  });
  after(async () => {
    await agent?.stop();
    await hub?.stop();
    agent?.close();
    hub?.close();
    await src?.end();
    await receiver?.close();
    await pgi?.stop();
  });

  it("the agent's doctor findings reach the API and raise an alert that resolves once fixed", async () => {
    const report = await waitFor(
      'the doctor report of agent-1',
      async () => {
        const r = await httpJson<{ sources: { source: string; status: string; findings: { check: string; severity: string; fix?: string }[] }[] }>(httpPort, '/v1/agents/agent-1/doctor');
        return r.sources.find((s) => s.source === 'src' && s.findings.some((f) => f.check === 'slot' && /is active/.test(JSON.stringify(f))));
      },
      120_000,
      250,
    );
    const nokey = report.findings.find((f) => f.check === 'replica_identity.public.nokey');
    assert.equal(nokey?.severity, 'critical');
    assert.match(nokey?.fix ?? '', /ALTER TABLE "public"\."nokey" ADD PRIMARY KEY/);
    assert.equal(report.findings.find((f) => f.check === 'wal_level')?.severity, 'ok');
    assert.equal(report.status, 'critical');
    await receiver.waitFor('the source check alert', (r) => deliveries(r).some((d) => d.type === 'alert.opened' && d.alert.key === 'sourceCheck:agent-1/src:replica_identity.public.nokey'));
    await src.query('ALTER TABLE public.nokey ADD PRIMARY KEY (a)');
    await receiver.waitFor('its resolution', (r) => deliveries(r).some((d) => d.type === 'alert.resolved' && d.alert.key === 'sourceCheck:agent-1/src:replica_identity.public.nokey'));
  });

  it('stopping the agent delivers "agent disconnected"; restarting it resolves the alert', async () => {
    const key = 'agentDisconnected:agent-1/src';
    const from = receiver.received.length;
    assert.equal(await agent.stop(), 0);
    await receiver.waitFor('the disconnected alert', (r) => deliveries(r.slice(from)).some((d) => d.type === 'alert.opened' && d.alert.key === key), 60_000);
    const opened = deliveries(receiver.received.slice(from)).find((d) => d.alert.key === key);
    assert.equal(opened?.alert.rule, 'agentDisconnected');
    assert.match(opened?.alert.message ?? '', /agent agent-1 \(source agent-1\/src\) has been disconnected since/);
    await receiver.waitFor('the Slack message', (r) => r.slice(from).some((x) => x.path === '/slack' && /Agent agent-1 disconnected/.test((x.body as { text: string }).text)));

    const open = await httpJson<{ alerts: Alert[] }>(httpPort, '/v1/alerts?state=open');
    const alert = open.alerts.find((a) => a.key === key);
    assert.equal(alert?.id, opened?.alert.id);
    const ack = await apiFetch(httpPort, `/v1/alerts/${alert?.id}/ack`, { method: 'POST' });
    assert.equal(ack.status, 200);
    assert.equal(((await ack.json()) as { alert: Alert }).alert.state, 'acknowledged');

    agent.start();
    await receiver.waitFor('the resolution', (r) => deliveries(r.slice(from)).some((d) => d.type === 'alert.resolved' && d.alert.key === key), 120_000);
    const resolved = await httpJson<{ alerts: Alert[] }>(httpPort, '/v1/alerts?state=resolved');
    const done = resolved.alerts.find((a) => a.id === alert?.id);
    assert.equal(done?.state, 'resolved');
    assert.notEqual(done?.acknowledgedAt, null, 'the acknowledgement is kept');
    assert.equal((await apiFetch(httpPort, `/v1/alerts/${alert?.id}/ack`, { method: 'POST' })).status, 409);
  });
});
