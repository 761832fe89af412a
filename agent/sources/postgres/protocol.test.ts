import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteBuilder, pgoutput, readTuple, tuple, UNCHANGED_TOAST } from '../../../test/support/pgoutput-builder.js';
import { AgentError } from '../../errors.js';
import { decodePgOutput } from './protocol.js';
import type { PgOutputMessage } from './protocol.js';

const LSN = 0x16_b374_d848n;
const END_LSN = 0x16_b374_d8a0n;
/** 2024-05-06T07:08:09.123456Z in microseconds since 1970. */
const T = 1_714_979_289_123_456n;

function decode(b: ByteBuilder): PgOutputMessage {
  return decodePgOutput(b.build());
}

function protocolError(pattern: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof AgentError, `expected AgentError, got ${String(e)}`);
    assert.equal(e.kind, 'protocol');
    assert.match(e.message, pattern);
    return true;
  };
}

describe('decodePgOutput', () => {
  it('decodes Begin with the commit time moved to the Unix epoch', () => {
    assert.deepEqual(decode(pgoutput.begin(LSN, T, 0xfffffffe)), {
      tag: 'begin',
      finalLsn: LSN,
      commitTimeUs: Number(T),
      xid: 0xfffffffe,
    });
  });

  it('decodes Begin at exactly 2000-01-01 and before it', () => {
    const at = decode(pgoutput.begin(1n, 946_684_800_000_000n, 1));
    assert.equal(at.tag === 'begin' && at.commitTimeUs, 946_684_800_000_000);
    const before = decode(pgoutput.begin(1n, 1n, 1));
    assert.equal(before.tag === 'begin' && before.commitTimeUs, 1);
  });

  it('decodes Commit', () => {
    assert.deepEqual(decode(pgoutput.commit(LSN, END_LSN, T)), {
      tag: 'commit',
      flags: 0,
      commitLsn: LSN,
      endLsn: END_LSN,
      commitTimeUs: Number(T),
    });
  });

  it('decodes Origin', () => {
    assert.deepEqual(decode(pgoutput.origin(0xffff_ffff_ffff_ffffn, 'pg_16384')), {
      tag: 'origin',
      lsn: 0xffff_ffff_ffff_ffffn,
      name: 'pg_16384',
    });
  });

  it('decodes Relation with key flags and type modifiers', () => {
    const msg = decode(
      pgoutput.relation(16_385, 'public', 'Ünïcode table', 'd', [
        { name: 'id', typeOid: 20, key: true },
        { name: 'price', typeOid: 1700, typeMod: ((12 << 16) | 2) + 4 },
        { name: 'tags', typeOid: 1009 },
      ]),
    );
    assert.deepEqual(msg, {
      tag: 'relation',
      relationId: 16_385,
      namespace: 'public',
      name: 'Ünïcode table',
      replicaIdentity: 'd',
      columns: [
        { key: true, name: 'id', typeOid: 20, typeMod: -1 },
        { key: false, name: 'price', typeOid: 1700, typeMod: 786_438 },
        { key: false, name: 'tags', typeOid: 1009, typeMod: -1 },
      ],
    });
  });

  it('decodes a Relation without columns and a type OID above 2^31', () => {
    const msg = decode(pgoutput.relation(0x8000_0001, '', 'empty', 'n', []));
    assert.equal(msg.tag === 'relation' && msg.relationId, 0x8000_0001);
    assert.equal(msg.tag === 'relation' && msg.columns.length, 0);
  });

  it('decodes Type', () => {
    assert.deepEqual(decode(pgoutput.type(90_001, 'public', 'mood')), {
      tag: 'type',
      typeOid: 90_001,
      namespace: 'public',
      name: 'mood',
    });
  });

  it('decodes Insert with every column kind, lazily', () => {
    const bin = Uint8Array.of(0, 1, 2);
    const msg = decode(pgoutput.insert(7, ['42', null, UNCHANGED_TOAST, '', 'héllo 🌊', { binary: bin }]));
    assert.equal(msg.tag, 'insert');
    if (msg.tag !== 'insert') return;
    assert.equal(msg.relationId, 7);
    assert.equal(msg.newTuple.count, 6);
    assert.equal(msg.newTuple.end, msg.newTuple.buf.length);
    assert.deepEqual(readTuple(msg.newTuple), ['42', null, UNCHANGED_TOAST, '', 'héllo 🌊', { binary: bin }]);
  });

  it('decodes Update without, with key and with full old tuple', () => {
    const plain = decode(pgoutput.update(7, ['1', 'b']));
    assert.ok(plain.tag === 'update');
    assert.equal(plain.oldKind, null);
    assert.equal(plain.oldTuple, null);
    assert.deepEqual(readTuple(plain.newTuple), ['1', 'b']);

    for (const kind of ['K', 'O'] as const) {
      const msg = decode(pgoutput.update(7, ['2', 'b'], { kind, row: ['1', kind === 'K' ? null : 'a'] }));
      assert.ok(msg.tag === 'update');
      assert.equal(msg.oldKind, kind);
      assert.ok(msg.oldTuple !== null);
      assert.deepEqual(readTuple(msg.oldTuple), ['1', kind === 'K' ? null : 'a']);
      assert.deepEqual(readTuple(msg.newTuple), ['2', 'b']);
    }
  });

  it('decodes Delete with key and with full old tuple', () => {
    for (const kind of ['K', 'O'] as const) {
      const msg = decode(pgoutput.delete(9, kind, ['1', null]));
      assert.ok(msg.tag === 'delete');
      assert.equal(msg.relationId, 9);
      assert.equal(msg.oldKind, kind);
      assert.deepEqual(readTuple(msg.oldTuple), ['1', null]);
    }
  });

  it('decodes Truncate options and relation ids', () => {
    assert.deepEqual(decode(pgoutput.truncate([1, 2, 0xffff_fff0], { cascade: true, restartIdentity: true })), {
      tag: 'truncate',
      cascade: true,
      restartIdentity: true,
      relationIds: [1, 2, 0xffff_fff0],
    });
    assert.deepEqual(decode(pgoutput.truncate([5])), {
      tag: 'truncate',
      cascade: false,
      restartIdentity: false,
      relationIds: [5],
    });
  });

  it('decodes logical decoding messages, transactional or not', () => {
    const content = new TextEncoder().encode('{"watermark":"low","chunk":3}');
    const msg = decode(pgoutput.message(true, LSN, 'tributary', content));
    assert.ok(msg.tag === 'message');
    assert.equal(msg.transactional, true);
    assert.equal(msg.lsn, LSN);
    assert.equal(msg.prefix, 'tributary');
    assert.deepEqual(msg.content, content);

    const empty = decode(pgoutput.message(false, 1n, 'p', new Uint8Array(0)));
    assert.ok(empty.tag === 'message');
    assert.equal(empty.transactional, false);
    assert.equal(empty.content.length, 0);
  });

  it('decodes from a view with a non-zero byteOffset', () => {
    const bytes = pgoutput.insert(3, ['x']).build();
    const framed = new Uint8Array(bytes.length + 25);
    framed.set(bytes, 25);
    const msg = decodePgOutput(framed.subarray(25));
    assert.ok(msg.tag === 'insert');
    assert.deepEqual(readTuple(msg.newTuple), ['x']);
  });
});

describe('decodePgOutput rejects malformed input', () => {
  it('rejects an empty message', () => {
    assert.throws(() => decodePgOutput(new Uint8Array(0)), protocolError(/empty message at byte 0/));
  });

  it('rejects an unknown message type, naming it', () => {
    assert.throws(() => decodePgOutput(Uint8Array.of(0x53, 0, 0)), protocolError(/unknown message type 0x53 at byte 0/));
  });

  it('rejects every truncation of every message type without reading out of bounds', () => {
    const fixtures: ReadonlyArray<[string, ByteBuilder]> = [
      ['Begin', pgoutput.begin(LSN, T, 5)],
      ['Commit', pgoutput.commit(LSN, END_LSN, T)],
      ['Origin', pgoutput.origin(LSN, 'o')],
      ['Relation', pgoutput.relation(1, 'public', 't', 'f', [{ name: 'a', typeOid: 23, key: true }])],
      ['Type', pgoutput.type(1, 'public', 'mood')],
      ['Insert', pgoutput.insert(1, ['abc', null, UNCHANGED_TOAST])],
      ['Update', pgoutput.update(1, ['abc'], { kind: 'O', row: ['ab'] })],
      ['Delete', pgoutput.delete(1, 'K', ['abc'])],
      ['Truncate', pgoutput.truncate([1, 2])],
      ['Message', pgoutput.message(true, LSN, 'p', Uint8Array.of(1, 2, 3))],
    ];
    for (const [name, builder] of fixtures) {
      const full = builder.build();
      for (let len = 1; len < full.length; len++) {
        assert.throws(
          () => decodePgOutput(full.subarray(0, len)),
          protocolError(new RegExp(`^pgoutput ${name} message: .* at byte \\d+$`)),
          `${name} cut to ${len} bytes`,
        );
      }
    }
  });

  it('rejects trailing bytes', () => {
    const b = pgoutput.commit(LSN, END_LSN, T).int8(0);
    assert.throws(() => decode(b), protocolError(/Commit message: 1 trailing bytes at byte 26/));
  });

  it('rejects an unknown tuple column kind', () => {
    const b = new ByteBuilder().char('I').int32(1).char('N').int16(1).char('x');
    assert.throws(() => decode(b), protocolError(/Insert message: column 0 has unknown kind 0x78 at byte 8/));
  });

  it('rejects a negative column length', () => {
    const b = new ByteBuilder().char('I').int32(1).char('N').int16(1).char('t').int32(-1);
    assert.throws(() => decode(b), protocolError(/negative length -1 at byte 9/));
  });

  it('rejects a column length past the end', () => {
    const b = new ByteBuilder().char('I').int32(1).char('N').int16(1).char('t').int32(0x7fffffff).raw([1, 2]);
    assert.throws(() => decode(b), protocolError(/Insert message: truncated/));
  });

  it('rejects wrong tuple markers', () => {
    const ins = new ByteBuilder().char('I').int32(1).char('K').append(tuple(['1']));
    assert.throws(() => decode(ins), protocolError(/Insert message: expected 'N', got 0x4b at byte 5/));
    const upd = new ByteBuilder().char('U').int32(1).char('X').append(tuple(['1']));
    assert.throws(() => decode(upd), protocolError(/Update message: expected 'N', got 0x58 at byte 5/));
    const upd2 = new ByteBuilder().char('U').int32(1).char('K').append(tuple(['1'])).char('K').append(tuple(['1']));
    assert.throws(() => decode(upd2), protocolError(/Update message: expected 'N'/));
    const del = new ByteBuilder().char('D').int32(1).char('N').append(tuple(['1']));
    assert.throws(() => decode(del), protocolError(/Delete message: expected 'K' or 'O', got 0x4e at byte 5/));
  });

  it('rejects a Truncate whose count exceeds the message', () => {
    const b = new ByteBuilder().char('T').int32(0x7fffffff).int8(0).int32(1);
    assert.throws(() => decode(b), protocolError(/Truncate message: 2147483647 relation ids need/));
  });

  it('rejects invalid UTF-8 in names', () => {
    const b = new ByteBuilder().char('Y').int32(1).raw([0xff, 0xfe]).int8(0).cstring('x');
    assert.throws(() => decode(b), protocolError(/Type message: invalid UTF-8 string at byte 5/));
  });
});
