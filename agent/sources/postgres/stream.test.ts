import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AgentError, retryDirective } from '../../errors.js';
import { parseLsn } from './position.js';
import { classify, ReplicationStream, standbyStatusUpdate } from './stream.js';

describe('standbyStatusUpdate', () => {
  it('reports exactly the durable position as written, flushed and applied', () => {
    const lsn = parseLsn('16/B374D848');
    const msg = standbyStatusUpdate(lsn, Date.UTC(2000, 0, 1, 0, 0, 1));
    assert.equal(msg.length, 34);
    assert.equal(msg[0], 0x72, "'r'");
    // Not lsn + 1: confirmed_flush_lsn must never pass what the spool holds.
    assert.equal(msg.readBigUInt64BE(1), lsn);
    assert.equal(msg.readBigUInt64BE(9), lsn);
    assert.equal(msg.readBigUInt64BE(17), lsn);
    assert.equal(msg.readBigInt64BE(25), 1_000_000n, 'microseconds since 2000-01-01');
    assert.equal(msg[33], 0, 'no reply requested');
  });

  it('carries the full 64-bit range of positions', () => {
    const msg = standbyStatusUpdate(0xfffffffe_00000001n, Date.UTC(2026, 10, 25));
    assert.equal(msg.readBigUInt64BE(9), 0xfffffffe_00000001n);
  });
});

describe('classify', () => {
  const withCode = (code: string): Error => Object.assign(new Error('server says no'), { code });

  it('decides by SQLSTATE, not by message text', () => {
    assert.equal(classify(withCode('28P01')).kind, 'source-permission');
    assert.equal(classify(withCode('42501')).kind, 'source-permission');
    assert.equal(classify(withCode('55000')).kind, 'source-misconfigured');
    assert.equal(classify(withCode('42704')).kind, 'source-misconfigured');
    assert.equal(classify(withCode('55006')).kind, 'source-unavailable', 'slot in use by another connection: retry');
    assert.equal(classify(withCode('57P01')).kind, 'source-unavailable', 'admin shutdown: retry');
    assert.equal(classify(withCode('08006')).kind, 'source-unavailable');
  });

  it('treats failures without SQLSTATE (network) as retryable, and keeps the cause', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const err = classify(cause);
    assert.equal(err.kind, 'source-unavailable');
    assert.equal(retryDirective(err.kind), 'retry');
    assert.equal(err.cause, cause);
  });

  it('passes AgentErrors through unchanged', () => {
    const e = new AgentError('protocol', 'bad bytes');
    assert.equal(classify(e), e);
  });
});

describe('ReplicationStream', () => {
  it('keeps a connection error the library emits as an event instead of crashing the agent', () => {
    const stream = new ReplicationStream({
      client: { host: '127.0.0.1', port: 1 },
      slot: 's',
      publication: 'p',
      startLsn: 0n,
      sessionSettings: {},
      onData: () => undefined,
      onServerPosition: () => undefined,
      statusIntervalMs: 10_000,
    });
    const service = (stream as unknown as { service: import('node:events').EventEmitter }).service;
    // With no 'error' listener, EventEmitter would throw (an uncaught exception in the agent).
    assert.doesNotThrow(() => service.emit('error', Object.assign(new Error('terminating connection'), { code: '57P01' })));
    assert.equal((stream as unknown as { failure: Error }).failure.message, 'terminating connection');
  });
});
