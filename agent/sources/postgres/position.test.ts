import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AgentError } from '../../errors.js';
import { formatLsn, INVALID_LSN, parseLsn } from './position.js';

describe('parseLsn', () => {
  it('parses the upper and lower halves', () => {
    assert.equal(parseLsn('16/B374D848'), (0x16n << 32n) | 0xb374d848n);
    assert.equal(parseLsn('0/0'), INVALID_LSN);
    assert.equal(parseLsn('0/1'), 1n);
    assert.equal(parseLsn('1/0'), 1n << 32n);
  });

  it('accepts lower case and the full 64-bit range', () => {
    assert.equal(parseLsn('ffffffff/ffffffff'), 0xffffffffffffffffn);
    assert.equal(parseLsn('a/b'), (10n << 32n) | 11n);
  });

  it('rejects malformed text with a protocol error', () => {
    for (const bad of ['', '/', '16', '16/', '/1', 'G/0', '1/0x1', '123456789/0', '0/123456789', '1/2/3', ' 1/2', '-1/0']) {
      assert.throws(
        () => parseLsn(bad),
        (e: unknown) => e instanceof AgentError && e.kind === 'protocol' && e.message.includes('malformed LSN'),
        bad,
      );
    }
  });
});

describe('formatLsn', () => {
  it('prints like PostgreSQL', () => {
    assert.equal(formatLsn((0x16n << 32n) | 0xb374d848n), '16/B374D848');
    assert.equal(formatLsn(0n), '0/0');
    assert.equal(formatLsn(0xffffffffffffffffn), 'FFFFFFFF/FFFFFFFF');
  });

  it('round-trips with parseLsn', () => {
    for (const lsn of [1n, 0x1_0000_0000n, 0x0123_4567_89ab_cdefn, 0xffff_ffff_0000_0001n]) {
      assert.equal(parseLsn(formatLsn(lsn)), lsn);
    }
  });

  it('rejects values outside 64 bits', () => {
    assert.throws(() => formatLsn(-1n), AgentError);
    assert.throws(() => formatLsn(1n << 64n), AgentError);
  });
});
