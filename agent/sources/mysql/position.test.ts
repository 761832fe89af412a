import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AgentError } from '../../errors.js';
import { advanceMariaDb, binlogFileNumber, commitPosition, decodeResume, encodeResume, formatGtid, parseMariaDbGtids, parseMySqlGtidSet } from './position.js';

describe('MySQL positions', () => {
  it('orders commit positions by file number, then offset', () => {
    assert.equal(binlogFileNumber('binlog.000042'), 42);
    assert.equal(commitPosition('binlog.000001', 4), (1n << 32n) | 4n);
    assert.ok(commitPosition('mysql-bin.000002', 4) > commitPosition('mysql-bin.000001', 0xffffffff));
    assert.throws(() => binlogFileNumber('binlog'), AgentError);
    assert.throws(() => commitPosition('binlog.000001', -1), AgentError);
  });

  it('parses and formats MariaDB GTID positions, replacing a domain on commit', () => {
    const p = parseMariaDbGtids('1-10-5,0-1-18446744073709551615');
    assert.equal(formatGtid(p), '0-1-18446744073709551615,1-10-5');
    assert.equal(formatGtid(advanceMariaDb(p, { domain: 1, server: 11, seq: 6n })), '0-1-18446744073709551615,1-11-6');
    assert.equal(formatGtid(advanceMariaDb(null, { domain: 0, server: 1, seq: 1n })), '0-1-1');
    assert.throws(() => parseMariaDbGtids('0-1'), AgentError);
  });

  it('parses and formats MySQL GTID sets, tags included', () => {
    const text = '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,4e11fa47-71ca-11e1-9e33-c80aa9429562:tag_a:1-3';
    assert.equal(formatGtid(parseMySqlGtidSet(text)), text);
    assert.throws(() => parseMySqlGtidSet('nope:1-2'), AgentError);
  });

  it('round-trips the resume position through its spool form', () => {
    const p = { gtid: parseMariaDbGtids('0-1-99'), file: 'binlog.000003', pos: 1234 };
    assert.deepEqual(decodeResume(encodeResume(p)), p);
    assert.deepEqual(decodeResume(encodeResume({ gtid: null, file: 'b.000001', pos: 4 })), { gtid: null, file: 'b.000001', pos: 4 });
    assert.throws(() => decodeResume('{"v":2}'), (e: unknown) => e instanceof AgentError && e.kind === 'spool-corrupt');
  });
});
