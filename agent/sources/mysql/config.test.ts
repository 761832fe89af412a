import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { parseAgentConfig } from '../../config.js';
import { AgentError } from '../../errors.js';

function agent(source: Record<string, unknown>): unknown {
  return { agentId: 'a', hub: { address: 'h:1', plaintext: true }, spool: { path: '/s' }, source: { kind: 'mysql', id: 'shop', user: 'repl', ...source } };
}

function errors(source: Record<string, unknown>): string {
  try {
    parseAgentConfig(agent(source), {});
  } catch (e) {
    assert.ok(e instanceof AgentError && e.kind === 'config');
    return e.message;
  }
  assert.fail('configuration was accepted');
}

describe('mysql source configuration', () => {
  it('parses with defaults and keeps the password secret', () => {
    const c = parseAgentConfig(agent({ serverId: 4001, password: { env: 'PW' }, tables: ['shop.*', 'crm.users'] }), { PW: 'hunter2' });
    assert.equal(c.source.kind, 'mysql');
    if (c.source.kind !== 'mysql') return;
    assert.deepEqual([c.source.host, c.source.port, c.source.serverId, c.source.zeroDates, c.source.heartbeatMs], ['127.0.0.1', 3306, 4001, 'null', 1000]);
    assert.equal(c.source.password?.reveal(), 'hunter2');
    assert.ok(!inspect(c).includes('hunter2'));
  });

  it('requires serverId and names every bad field', () => {
    const msg = errors({ tables: ['nodot'], zeroDates: 'epoch', slot: 'x' });
    assert.match(msg, /source\.serverId: required/);
    assert.match(msg, /source\.tables\[0\]: expected "database\.table" or "database\.\*"/);
    assert.match(msg, /source\.zeroDates: "epoch" is not "null" or "error"/);
    assert.match(msg, /source\.slot: unknown field/);
    assert.match(errors({ serverId: 1 }), /source\.serverId: expected an integer from 2 to 4294967295/);
  });

  it('heartbeats: off without a heartbeatTable; the table and interval are validated by name', () => {
    const plain = parseAgentConfig(agent({ serverId: 4001 }), {});
    assert.ok(plain.source.kind === 'mysql');
    assert.equal(plain.source.heartbeatTable, null);
    const on = parseAgentConfig(agent({ serverId: 4001, heartbeatTable: 'tributary.heartbeat', heartbeatIntervalMs: 2000 }), {});
    assert.ok(on.source.kind === 'mysql');
    assert.deepEqual([on.source.heartbeatTable, on.source.heartbeatIntervalMs], ['tributary.heartbeat', 2000]);
    assert.match(errors({ serverId: 4001, heartbeatTable: 'heartbeat' }), /source\.heartbeatTable: "heartbeat" is not a "database\.table" name/);
    assert.match(errors({ serverId: 4001, heartbeatTable: 'mysql.hb' }), /source\.heartbeatTable: "mysql\.hb" is in a system database/);
    assert.match(errors({ serverId: 4001, heartbeatTable: 'a.b', heartbeatIntervalMs: 10 }), /source\.heartbeatIntervalMs: expected 0 \(off\) or at least 100/);
  });
});
