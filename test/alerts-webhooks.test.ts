/**
 * Alert delivery to a real local HTTP receiver: the generic JSON webhook and
 * the Slack-compatible one, retries with backoff after 5xx and timeouts, no
 * retry after a refusal (4xx), and a slow receiver never holding up the feed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AlertService } from '../hub/alerts/alert-service.js';
import { parseHubConfig } from '../hub/config.js';
import { HubEvents } from '../hub/events/hub-events.js';
import type { AgentSession } from '../hub/ingest/ingest-server.js';
import { createLogger } from '../hub/log.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

const quiet = process.env['TEST_DEBUG'] ? createLogger('debug') : createLogger('error', {}, () => undefined);

interface JsonDelivery {
  type: string;
  hub: string;
  alert: { id: string; rule: string; state: string; severity: string; source: string; title: string };
}
interface SlackDelivery {
  text: string;
  blocks: { type: string; text?: { type: string; text: string }; elements?: { type: string; text: string }[] }[];
}

describe('alert webhooks against a real HTTP receiver', { timeout: 120_000 }, () => {
  let receiver: WebhookReceiver;
  let dir: string;
  let service: AlertService;
  const sessions = new Map<string, AgentSession>();
  const events = new HubEvents(quiet);
  let now = Date.parse('2026-01-01T00:00:00Z');

  before(async () => {
    receiver = await WebhookReceiver.start();
    dir = mkdtempSync(join(tmpdir(), 'tributary-alert-webhooks-'));
    const config = parseHubConfig(
      {
        hubId: 'hub-w',
        log: { path: join(dir, 'log') },
        alerts: {
          rules: { agentDisconnected: { seconds: 5 } },
          webhooks: [
            { name: 'json', kind: 'json', url: receiver.url('/json?token=abc'), backoffMs: 50, maxBackoffMs: 200, timeoutMs: 2000, maxAttempts: 4 },
            { name: 'slack', kind: 'slack', url: receiver.url('/slack'), minSeverity: 'warning', backoffMs: 50, maxBackoffMs: 200 },
            { name: 'other-ws', kind: 'json', url: receiver.url('/other'), workspace: 'other' },
          ],
        },
      },
      {},
    );
    service = new AlertService({
      config: config.alerts,
      hubId: 'hub-w',
      stateDir: dir,
      events,
      logger: quiet,
      now: () => now,
      view: () => ({ startedAtMs: Date.parse('2026-01-01T00:00:00Z'), sessions, pipelines: [], sinks: [], sinkWorkspaces: new Map(), logHead: 0 }),
    });
    service.start();
  });
  after(async () => {
    await service[Symbol.asyncDispose]();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const session = (connected: boolean): AgentSession => ({
    agentId: 'edge',
    workspace: 'default',
    sourceId: 'db',
    sourceKind: 'postgres',
    agentVersion: '0',
    connectedAt: new Date(now),
    lastSeen: new Date(Date.parse('2026-01-01T00:00:00Z')),
    lastHeartbeat: null,
    connected,
    freshUntilUs: 0,
  });

  it('delivers an opened alert as JSON and as a Slack message, retrying the JSON one through 5xx answers', async () => {
    receiver.answer('/json?token=abc', 503, 500);
    sessions.set('edge/db', session(false));
    now += 10_000;
    await service.evaluateNow();
    await receiver.waitFor('three JSON attempts and one Slack message', () => receiver.on('/json?token=abc').length === 3 && receiver.on('/slack').length === 1);
    const attempts = receiver.on('/json?token=abc');
    assert.deepEqual(attempts.map((r) => r.status), [503, 500, 200]);
    const body = attempts[2]?.body as JsonDelivery;
    assert.equal(body.type, 'alert.opened');
    assert.equal(body.hub, 'hub-w');
    assert.equal(body.alert.rule, 'agentDisconnected');
    assert.equal(body.alert.state, 'open');
    assert.equal(body.alert.source, 'edge/db');
    assert.deepEqual((attempts[0]?.body as JsonDelivery).alert, body.alert, 'a retry sends the same alert');
    assert.equal('holdMs' in body.alert, false);
    assert.equal(attempts[0]?.headers['content-type'], 'application/json');
    const slack = receiver.on('/slack')[0]?.body as SlackDelivery;
    assert.equal(typeof slack.text, 'string');
    assert.match(slack.text, /^:red_circle: CRITICAL: Agent edge disconnected — agent edge \(source edge\/db\)/);
    assert.equal(slack.blocks[0]?.type, 'section');
    assert.equal(slack.blocks[0]?.text?.type, 'mrkdwn');
    assert.match(slack.blocks[0]?.text?.text ?? '', /^\*:red_circle: CRITICAL: Agent edge disconnected\*\n/);
    assert.equal(slack.blocks[1]?.type, 'context');
    assert.match(slack.blocks[1]?.elements?.[0]?.text ?? '', new RegExp(`hub \`hub-w\` · workspace \`default\` · source \`edge/db\` · opened .* · alert \`${body.alert.id}\``));
    assert.equal(receiver.on('/other').length, 0, 'a webhook of another workspace gets nothing');
    assert.ok(await service.webhooks.idle(10_000));
    assert.equal(service.webhooks.counts.get('json:delivered'), 1);
  });

  it('delivers the resolution when the condition clears; the feed shows it resolved', async () => {
    sessions.set('edge/db', session(true));
    await service.evaluateNow();
    await receiver.waitFor('the resolution on both webhooks', () => receiver.on('/slack').length === 2 && receiver.on('/json?token=abc').length === 4);
    const body = receiver.on('/json?token=abc')[3]?.body as JsonDelivery;
    assert.equal(body.type, 'alert.resolved');
    assert.equal(body.alert.state, 'resolved');
    assert.match((receiver.on('/slack')[1]?.body as SlackDelivery).text, /^:white_check_mark: Resolved: Agent edge disconnected/);
    assert.deepEqual(service.feed.list('default').map((a) => a.state), ['resolved']);
  });

  it('retries after a receiver that does not answer in time, and does not retry a refusal', async () => {
    const before = receiver.received.length;
    receiver.answer('/json?token=abc', 'hang', 404);
    events.publish({ kind: 'schema.changed', workspace: 'default', source: 'edge/db', table: 'public.orders', severity: 'info', message: 'column note added', data: {} });
    events.publish({ kind: 'schema.changed', workspace: 'default', source: 'edge/db', table: 'public.items', severity: 'info', message: 'column x added', data: {} });
    await receiver.waitFor('a timed-out attempt, its retry, and the refused second notification', () => receiver.received.length - before >= 3);
    await service.webhooks.idle(10_000);
    const json = receiver.received.slice(before).filter((r) => r.path.startsWith('/json'));
    // The first notification: no answer within 2 s, retried, then refused (404: not retried again).
    // The second goes out right after the refusal.
    assert.deepEqual(json.map((r) => r.status), ['hang', 404, 200]);
    assert.equal((json[0]?.body as JsonDelivery).alert.title, 'Schema changed: public.orders');
    assert.equal(json[1]?.status, 404);
    assert.equal((json[1]?.body as JsonDelivery).alert.title, 'Schema changed: public.orders', 'the timed-out delivery was retried');
    assert.equal(json[2]?.status, 200);
    assert.equal((json[2]?.body as JsonDelivery).alert.title, 'Schema changed: public.items', 'a refusal is not retried: the next alert goes out');
    assert.equal(service.webhooks.counts.get('json:refused'), 1);
    assert.equal(receiver.received.slice(before).filter((r) => r.path === '/slack').length, 0, 'info alerts stay below the Slack webhook minimum');
  });

  it('a receiver that hangs never holds up the feed', async () => {
    receiver.answer('/json?token=abc', 'hang', 'hang', 'hang', 'hang');
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) events.publish({ kind: 'schema.changed', workspace: 'default', source: 'edge/db', table: `public.t${i}`, severity: 'warning', message: 'changed', data: {} });
    await service.evaluateNow();
    assert.ok(Date.now() - t0 < 5_000, `20 alerts took ${Date.now() - t0} ms`);
    assert.equal(service.feed.list('default', 'open').filter((a) => a.rule === 'schemaChanged').length, 22);
  });
});
