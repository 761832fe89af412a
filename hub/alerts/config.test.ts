import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHubConfig } from '../config.js';
import { HubError } from '../errors.js';

const parse = (alerts: unknown, env: NodeJS.ProcessEnv = {}) => parseHubConfig({ log: { path: '/x' }, alerts }, env).alerts;

describe('alerts configuration', () => {
  it('every rule has a default', () => {
    const a = parse(undefined);
    assert.equal(a.evaluateSeconds, 10);
    assert.deepEqual(a.rules.lag, { enabled: true, seconds: 300, minutes: 5 });
    assert.deepEqual(a.rules.agentDisconnected, { enabled: true, seconds: 120 });
    assert.deepEqual(a.rules.sinkFailing, { enabled: true, seconds: 60 });
    assert.deepEqual(a.rules.spoolFilling, { enabled: true, ratio: 0.8 });
    assert.deepEqual(a.webhooks, []);
  });

  it('a webhook URL may come from the environment and never prints', () => {
    const a = parse({ webhooks: [{ name: 'ops', kind: 'slack', url: { env: 'HOOK' } }] }, { HOOK: 'https://hooks.example.com/services/T0/B0/secret-token' });
    const w = a.webhooks[0];
    assert.equal(w?.url.reveal(), 'https://hooks.example.com/services/T0/B0/secret-token');
    assert.equal(w?.kind, 'slack');
    assert.equal(w?.minSeverity, 'info');
    assert.ok(!JSON.stringify(a).includes('secret-token'));
  });

  it('errors name the field, and a bad URL is not repeated', () => {
    assert.throws(
      () => parse({ rules: { lag: { seconds: -1, minute: 3 } }, webhooks: [{ name: 'a', url: 'ftp://user:tok-123@x' }, { name: 'b', kind: 'teams', url: 'https://x' }, { name: 'c' }] }),
      (e: unknown) => {
        assert.ok(e instanceof HubError);
        assert.match(e.message, /alerts\.rules\.lag\.seconds: expected a number from 0/);
        assert.match(e.message, /alerts\.rules\.lag\.minute: unknown field/);
        assert.match(e.message, /alerts\.webhooks\[0\]\.url: expected an http:\/\/ or https:\/\/ URL/);
        assert.match(e.message, /alerts\.webhooks\[1\]\.kind/);
        assert.match(e.message, /alerts\.webhooks\[2\]\.url: expected the webhook URL/);
        assert.ok(!e.message.includes('tok-123'));
        return true;
      },
    );
  });
});
