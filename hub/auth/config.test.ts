import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHubConfig } from '../config.js';
import { HubError } from '../errors.js';
import { hashSecret } from './tokens.js';

function problems(json: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseHubConfig(json, env);
  } catch (e) {
    assert.ok(e instanceof HubError && e.kind === 'config');
    return e.message.split('\n').slice(1).map((l) => l.trim());
  }
  assert.fail('expected a configuration error');
}

describe('hub security configuration', () => {
  it('defaults to mutual TLS with state next to the log', () => {
    const c = parseHubConfig({ log: { path: '/data/log' } }, {});
    assert.deepEqual(c.security, { path: '/data/log-security', plaintext: false, serverNames: [], ca: null, certificateTtlSeconds: 2_592_000, enrollmentTokenTtlSeconds: 3600, adminTokens: [] });
    assert.equal(c.pipelines.length, 0);
  });

  it('keeps bootstrap admin tokens only as hashes', () => {
    const token = 't'.repeat(40);
    const c = parseHubConfig({ log: { path: '/l' }, security: { adminTokens: [{ workspace: 'acme', token: { env: 'ADMIN' } }] } }, { ADMIN: token });
    assert.deepEqual(c.security.adminTokens, [{ workspace: 'acme', hash: hashSecret(token) }]);
    assert.equal(JSON.stringify(c).includes(token), false);
  });

  it('names every wrong security field', () => {
    const list = problems({
      log: { path: '/l' },
      security: { plaintext: 'yes', serverNames: ['ok.example', 'bad name'], ca: { cert: '/c' }, certificateTtlSeconds: 1, adminTokens: [{ workspace: 'Bad WS', token: 'short' }, { token: { env: 'UNSET' } }], extra: 1 },
    });
    for (const p of ['security.plaintext', 'security.serverNames[1]', 'security.ca.key', 'security.certificateTtlSeconds', 'security.adminTokens[0].workspace', 'security.adminTokens[0].token', 'security.adminTokens[1].token.env', 'security.extra'])
      assert.ok(list.some((l) => l.startsWith(`${p}:`)), `${p} missing from:\n${list.join('\n')}`);
  });

  it('refuses a pipeline routing to a sink of another workspace', () => {
    const list = problems({
      log: { path: '/l' },
      sinks: [{ kind: 'postgres', name: 'wh', workspace: 'globex', database: 'd', user: 'u' }],
      pipelines: [{ name: 'p', workspace: 'acme', agent: 'a', source: 's', sinks: ['wh'] }],
    });
    assert.deepEqual(list, ['pipelines[0].sinks[0]: sink "wh" belongs to workspace "globex", the pipeline to "acme"']);
  });
});
