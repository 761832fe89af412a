/**
 * `{ "env": "NAME" }` for any string or integer field of the agent's
 * configuration, so a container takes its hub address and source connection
 * from `docker run -e` while the file stays the same for every site.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentConfig } from './config.js';
import { AgentError } from './errors.js';

const config = {
  agentId: { env: 'AGENT_ID' },
  hub: { address: { env: 'HUB_ADDRESS' }, plaintext: true },
  spool: { path: '/var/lib/tributary/spool', maxBytes: { env: 'SPOOL_MAX_BYTES' } },
  source: {
    kind: 'postgres',
    id: 'shop',
    host: { env: 'DB_HOST' },
    port: { env: 'DB_PORT' },
    database: { env: 'DB_NAME' },
    user: { env: 'DB_USER' },
    password: { env: 'DB_PASSWORD' },
    slot: 'tributary_shop',
    publication: 'tributary_shop',
  },
};

const env = {
  AGENT_ID: 'edge-7',
  HUB_ADDRESS: 'hub.example.com:7400',
  SPOOL_MAX_BYTES: '2097152',
  DB_HOST: 'db.internal',
  DB_PORT: '6543',
  DB_NAME: 'shop',
  DB_USER: 'replicator',
  DB_PASSWORD: 'pw',
};

function errors(e: NodeJS.ProcessEnv): string {
  try {
    parseAgentConfig(config, e);
  } catch (err) {
    assert.ok(err instanceof AgentError && err.kind === 'config');
    return err.message;
  }
  assert.fail('expected a configuration error');
}

test('string and integer fields are read from the environment', () => {
  const c = parseAgentConfig(config, env);
  assert.equal(c.agentId, 'edge-7');
  assert.equal(c.hub.address, 'hub.example.com:7400');
  assert.equal(c.spool.maxBytes, 2097152);
  assert.equal(c.source.kind, 'postgres');
  if (c.source.kind !== 'postgres') return;
  assert.deepEqual([c.source.host, c.source.port, c.source.database, c.source.user], ['db.internal', 6543, 'shop', 'replicator']);
  assert.equal(c.source.password?.reveal(), 'pw');
});

test('an unset variable is named with its field path, and values from the environment are validated', () => {
  const { DB_HOST: _host, ...withoutHost } = env;
  assert.match(errors(withoutHost), /source\.host\.env: environment variable DB_HOST is not set/);
  const bad = errors({ ...env, DB_PORT: '70000', HUB_ADDRESS: 'no-port', AGENT_ID: 'a b' });
  assert.match(bad, /source\.port: expected an integer from 1 to 65535, got 70000/);
  assert.match(bad, /hub\.address: "no-port" is not host:port/);
  assert.match(bad, /config\.agentId: "a b" is not a name/);
  assert.match(errors({ ...env, DB_PORT: 'five' }), /source\.port: expected an integer from 1 to 65535, got "five"/);
});

test('an object that is not exactly { "env": NAME } is still refused as the wrong type', () => {
  const c = structuredClone(config) as unknown as { source: Record<string, unknown> };
  c.source['host'] = { env: 'DB_HOST', default: 'x' };
  try {
    parseAgentConfig(c, env);
    assert.fail('expected a configuration error');
  } catch (err) {
    assert.match((err as Error).message, /source\.host: expected a non-empty string/);
  }
});
