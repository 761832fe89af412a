import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHubConfig } from '../../config.js';

const parse = (sink: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => parseHubConfig({ log: { path: './log' }, sinks: [sink] }, env);
const problems = (sink: Record<string, unknown>): string => {
  try {
    parse(sink);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
};

describe('warehouse sink configuration', () => {
  it('reads a duckdb sink with defaults and merge options', () => {
    const [s] = parse({ kind: 'duckdb', name: 'lake', path: '/tmp/x.duckdb', flushMs: 1000, deletePolicy: 'soft', dropColumns: true }).sinks;
    assert.deepEqual(s, { kind: 'duckdb', name: 'lake', path: '/tmp/x.duckdb', schema: 'main', merge: { flush: { maxEvents: 20_000, maxDelayMs: 1000 }, deletePolicy: 'soft', dropColumns: true } });
  });
  it('reads a snowflake sink with key-pair auth from the environment, secrets hidden', () => {
    const c = parse(
      { kind: 'snowflake', name: 'snow', account: 'org-acct', user: 'U', auth: { kind: 'key-pair', privateKey: { env: 'PK' } }, warehouse: 'WH', database: 'DB', mode: 'append' },
      { PK: '-----BEGIN PRIVATE KEY-----' },
    );
    const s = c.sinks[0];
    assert.equal(s?.kind, 'snowflake');
    assert.ok(s?.kind === 'snowflake' && s.auth.kind === 'key-pair' && s.auth.privateKey.reveal().startsWith('-----BEGIN'));
    assert.equal(s?.kind === 'snowflake' ? s.schema : '', 'PUBLIC');
    assert.doesNotMatch(JSON.stringify(c), /BEGIN PRIVATE/);
  });
  it('names every wrong field', () => {
    assert.match(problems({ kind: 'duckdb', name: 'd' }), /sinks\[0\]\.path: expected a non-empty string/);
    assert.match(problems({ kind: 'duckdb', name: 'd', path: 'x', deletePolicy: 'maybe' }), /sinks\[0\]\.deletePolicy: "maybe" is not "hard" or "soft"/);
    assert.match(problems({ kind: 'duckdb', name: 'd', path: 'x', flushMs: -1 }), /sinks\[0\]\.flushMs: expected an integer from 0 to 60000/);
    const snow = problems({ kind: 'snowflake', name: 's', account: 'a b', user: 'u', auth: { kind: 'password' }, warehouse: 'w', database: 'd', mode: 'upsert' });
    assert.match(snow, /sinks\[0\]\.account: "a b" is not a Snowflake account identifier/);
    assert.match(snow, /sinks\[0\]\.auth\.password: required for password auth/);
    assert.match(snow, /sinks\[0\]\.mode: "upsert" is not "merge" or "append"/);
    assert.match(problems({ kind: 'postgres', name: 'p', database: 'd', user: 'u', flushEvents: 0 }), /sinks\[0\]\.flushEvents/);
    assert.match(problems({ kind: 'postgres', name: 'p', database: 'd', user: 'u', dropColumns: 'yes' }), /sinks\[0\]\.dropColumns: expected true or false/);
  });
});
