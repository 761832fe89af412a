import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ChangeBatchSchema, ColumnSchema, Op, TableSchemaSchema, ValueKind, type TableSchema } from '../../proto/gen/tributary/v1/change_pb.js';
import { AckSchema, AgentEventSchema, AgentMessageSchema, HeartbeatSchema, HelloSchema, HubMessageSchema } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { encodeRow } from '../../proto/tributary/v1/row-codec.js';
import { UPLINK_STREAM_PATH } from '../../proto/tributary/v1/uplink-service.js';
import { BatchBuilder, encodeEvent, withSequence } from '../../agent/buffer/batch-builder.js';
import { encodedBatchMessage } from '../../agent/uplink/wire.js';
import { HubError } from '../errors.js';
import { checkEvent, eventWellFormed, hubUplinkDefinition, parseAgentMessage, parseBatch, type ParsedAgentMessage } from './wire.js';

function tableSchema(version: number): TableSchema {
  return create(TableSchemaSchema, {
    schema: 'public',
    table: 'orders',
    version,
    sincePosition: 500n,
    columns: [
      create(ColumnSchema, { name: 'id', kind: ValueKind.INT64, sourceType: 'bigint', key: true }),
      create(ColumnSchema, { name: 'note', kind: ValueKind.TEXT, sourceType: 'text', nullable: true }),
    ],
  });
}

function event(index: number): Uint8Array {
  return encodeEvent({
    schema: 'public',
    table: 'orders',
    op: Op.INSERT,
    key: encodeRow([BigInt(index)]),
    before: null,
    after: encodeRow([BigInt(index), 'n😀']),
    commitPosition: 0xffff_ffff_ffffn,
    indexInTx: index,
    commitTimeUs: -1,
    txid: 9,
    schemaVersion: 1,
  });
}

/** A spooled batch: BatchBuilder body with its sequence prefixed. */
function spooledBatch(sequence: number, position = 0x1_0000_0002n, boundary = true, events = 3): Uint8Array {
  const b = new BatchBuilder();
  b.addSchema(tableSchema(1));
  for (let i = 0; i < events; i++) b.addEvent(event(i));
  return withSequence(b.build(position, boundary), sequence);
}

/** Varint helper for hand-built fixtures. */
function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function field(no: number, wireType: number): number[] {
  return varint((no << 3) | wireType);
}

function lenDelimited(no: number, body: Uint8Array | readonly number[]): number[] {
  return [...field(no, 2), ...varint(body.length), ...body];
}

function isMalformed(e: unknown): boolean {
  return e instanceof HubError && e.kind === 'malformed';
}

function assertMalformed(bytes: Uint8Array | readonly number[], label: string): void {
  const b = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
  assert.throws(() => parseBatch(b), isMalformed, label);
}

describe('parseBatch', () => {
  it('reads the header of a BatchBuilder batch', () => {
    const h = parseBatch(spooledBatch(42));
    assert.equal(h.sequence, 42);
    assert.equal(h.sourcePosition, 0x1_0000_0002n);
    assert.equal(h.commitBoundary, true);
    assert.equal(h.eventCount, 3);
    assert.equal(h.schemas.length, 1);
    assert.deepEqual(toBinary(TableSchemaSchema, h.schemas[0] ?? tableSchema(0)), toBinary(TableSchemaSchema, tableSchema(1)));
  });

  it('reads a non-boundary batch without events or schemas', () => {
    const h = parseBatch(withSequence(new BatchBuilder().build(0n, false), Number.MAX_SAFE_INTEGER));
    assert.deepEqual(h, { sequence: Number.MAX_SAFE_INTEGER, sourcePosition: 0n, commitBoundary: false, schemas: [], eventCount: 0, sourceTimeUs: 0 });
  });

  it('reads the source time of a heartbeat batch (no events)', () => {
    const h = parseBatch(withSequence(new BatchBuilder().build(0x16b3748n, true, 1_764_000_000_123_456), 9));
    assert.deepEqual(h, { sequence: 9, sourcePosition: 0x16b3748n, commitBoundary: true, schemas: [], eventCount: 0, sourceTimeUs: 1_764_000_000_123_456 });
  });

  it('reads the largest uint64 source position', () => {
    assert.equal(parseBatch(spooledBatch(1, 2n ** 64n - 1n)).sourcePosition, 2n ** 64n - 1n);
  });

  it('skips unknown fields of any wire type in the batch and in events', () => {
    const base = spooledBatch(7);
    const unknown = Uint8Array.from([
      ...base,
      ...field(6, 0), ...varint(12345), // varint
      ...field(99, 1), 1, 2, 3, 4, 5, 6, 7, 8, // fixed64
      ...lenDelimited(100, [1, 2, 3]), // length-delimited
      ...field(101, 5), 1, 2, 3, 4, // fixed32
      ...field(102, 3), ...field(1, 0), 5, ...field(102, 4), // group
    ]);
    const h = parseBatch(unknown);
    assert.equal(h.sequence, 7);
    assert.equal(h.eventCount, 3);
    // an event carrying a field from a newer agent
    const ev = Uint8Array.from([...event(0), ...field(12, 0), 1, ...lenDelimited(13, [9, 9])]);
    const withEv = Uint8Array.from([...field(1, 0), 1, ...lenDelimited(3, ev)]);
    assert.equal(parseBatch(withEv).eventCount, 1);
  });

  it('lets the last occurrence of a scalar field win, like protobuf', () => {
    const b = Uint8Array.from([...field(1, 0), 5, ...field(4, 0), 1, ...field(1, 0), 6, ...field(4, 0), 2]);
    const h = parseBatch(b);
    assert.equal(h.sequence, 6);
    assert.equal(h.sourcePosition, 2n);
  });

  it('refuses a missing, zero or too large sequence', () => {
    assertMalformed(new BatchBuilder().build(1n, true), 'no sequence');
    assertMalformed(withSequence(new BatchBuilder().build(1n, true), 0), 'sequence 0');
    assertMalformed([...field(1, 0), ...varint(2n ** 53n)], 'sequence 2^53');
    assertMalformed([...field(1, 0), ...varint(2n ** 64n - 1n)], 'sequence 2^64-1');
    assertMalformed([], 'empty');
  });

  it('refuses every truncation of a valid batch', () => {
    const full = spooledBatch(3);
    let refused = 0;
    for (let n = 1; n < full.length; n++) {
      const prefix = full.subarray(0, n);
      try {
        parseBatch(prefix);
      } catch (e) {
        assert.ok(isMalformed(e), `prefix ${n}: ${String(e)}`);
        refused++;
        continue;
      }
      // a prefix that ends exactly on a field boundary is a valid (shorter) batch; it must not count more events than it holds
      assert.ok(parseBatch(prefix).eventCount <= 3);
    }
    assert.ok(refused > full.length / 2, `only ${refused} of ${full.length - 1} truncations refused`);
    // a length that runs past the end
    assertMalformed([...field(1, 0), 1, ...field(3, 2), 50, 1, 2], 'event length past end');
    assertMalformed([...field(1, 0), 0x80], 'truncated varint');
  });

  it('refuses ChangeBatch fields 1..6 with the wrong wire type', () => {
    const seq = [...field(1, 0), 1];
    assertMalformed([...field(1, 2), 1, 0], 'sequence as bytes');
    assertMalformed([...seq, ...field(2, 0), 1], 'schemas as varint');
    assertMalformed([...seq, ...field(3, 0), 1], 'events as varint');
    assertMalformed([...seq, ...field(3, 5), 1, 2, 3, 4], 'events as fixed32');
    assertMalformed([...seq, ...lenDelimited(4, [1])], 'position as bytes');
    assertMalformed([...seq, ...field(4, 1), 1, 0, 0, 0, 0, 0, 0, 0], 'position as fixed64');
    assertMalformed([...seq, ...lenDelimited(5, [1])], 'boundary as bytes');
    assertMalformed([...seq, ...lenDelimited(6, [1])], 'source time as bytes');
  });

  it('refuses events whose known fields have the wrong wire type', () => {
    const seq = [...field(1, 0), 1];
    const badEvents: Array<[string, number[]]> = [
      ['schema as varint', [...field(1, 0), 1]],
      ['table as fixed32', [...field(2, 5), 1, 2, 3, 4]],
      ['op as bytes', lenDelimited(3, [1])],
      ['key as varint', [...field(4, 0), 1]],
      ['after as varint', [...field(6, 0), 1]],
      ['commit_position as bytes', lenDelimited(7, [1])],
      ['schema_version as fixed64', [...field(11, 1), 0, 0, 0, 0, 0, 0, 0, 0]],
    ];
    for (const [label, ev] of badEvents) assertMalformed([...seq, ...lenDelimited(3, ev)], label);
  });

  it('refuses a schema that is not a valid TableSchema and an illegal tag', () => {
    const seq = [...field(1, 0), 1];
    assertMalformed([...seq, ...lenDelimited(2, [...field(1, 0), 1])], 'TableSchema.schema as varint');
    assertMalformed([...seq, ...lenDelimited(2, [0xff])], 'TableSchema truncated');
    assertMalformed([...seq, 0x00], 'field number 0');
    assertMalformed([...seq, ...field(3, 7)], 'wire type 7');
  });
});

describe('eventWellFormed (the in-place fast path of the event check)', () => {
  it('accepts real events, and never accepts what the full check refuses (20,000 seeded mutations)', () => {
    let seed = 0x2545f491;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const valid = event(300);
    assert.equal(eventWellFormed(valid, 0, valid.length), true);
    // Embedded in a larger buffer: only [start, end) is read.
    const framed = Uint8Array.of(0xff, 0xff, ...valid, 0x0a, 0xff);
    assert.equal(eventWellFormed(framed, 2, 2 + valid.length), true);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const b = Uint8Array.from(valid);
      for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      const cut = b.subarray(0, Math.floor(rand() * (b.length + 1)));
      const padded = Uint8Array.of(...cut, 0x0a, 0x7f, 0x08);
      if (!eventWellFormed(padded, 0, cut.length)) continue;
      accepted++;
      assert.doesNotThrow(() => checkEvent(cut), `mutation ${i} passed the fast path but not the full check`);
    }
    assert.ok(accepted > 100, `only ${accepted} mutations were accepted: the comparison tested little`);
  });

  it('leaves unknown group fields to the full check, which skips them', () => {
    // field 20, start group (wire type 3) ... end group (wire type 4)
    const group = [0xa3, 0x01, 0x08, 0x01, 0xa4, 0x01];
    const ev = Uint8Array.of(...event(1), ...group);
    assert.equal(eventWellFormed(ev, 0, ev.length), false);
    assert.doesNotThrow(() => checkEvent(ev));
    const batch = withSequence(new BatchBuilder().build(0n, false), 1);
    const withGroup = Uint8Array.of(...batch, 0x1a, ev.length, ...ev);
    assert.equal(parseBatch(withGroup).eventCount, 1);
  });
});

describe('parseAgentMessage', () => {
  it('parses a batch framed by the agent, keeping the batch bytes as they came', () => {
    const bytes = spooledBatch(12, 900n, false);
    const msg = parseAgentMessage(encodedBatchMessage(bytes).encoded);
    assert.equal(msg.case, 'batch');
    if (msg.case !== 'batch') return;
    assert.deepEqual(new Uint8Array(msg.bytes), bytes);
    assert.equal(msg.header.sequence, 12);
    assert.equal(msg.header.sourcePosition, 900n);
    assert.equal(msg.header.commitBoundary, false);
    assert.equal(msg.header.eventCount, 3);
    assert.equal(msg.header.schemas[0]?.table, 'orders');
  });

  it('parses batches whose length needs a multi-byte varint', () => {
    const bytes = spooledBatch(2, 1n, true, 2000);
    assert.ok(bytes.length > 1 << 14);
    const msg = parseAgentMessage(encodedBatchMessage(bytes).encoded);
    assert.equal(msg.case, 'batch');
    if (msg.case === 'batch') {
      assert.equal(msg.header.eventCount, 2000);
      assert.equal(msg.bytes.length, bytes.length);
    }
  });

  it('frames a batch exactly like the generated AgentMessage encoder', () => {
    const bytes = spooledBatch(5);
    const generated = toBinary(AgentMessageSchema, create(AgentMessageSchema, { body: { case: 'batch', value: fromBinary(ChangeBatchSchema, bytes) } }));
    assert.deepEqual(new Uint8Array(encodedBatchMessage(bytes).encoded), generated);
  });

  it('parses hello and heartbeat', () => {
    const hello = create(HelloSchema, { agentId: 'a1', sourceId: 'orders-db', sourceKind: 'postgres', agentVersion: '0.1.0', spoolFirstSequence: 3n, spoolLastSequence: 9n });
    const h = parseAgentMessage(toBinary(AgentMessageSchema, create(AgentMessageSchema, { body: { case: 'hello', value: hello } })));
    assert.equal(h.case, 'hello');
    if (h.case === 'hello') {
      assert.equal(h.value.agentId, 'a1');
      assert.equal(h.value.sourceId, 'orders-db');
      assert.equal(h.value.spoolLastSequence, 9n);
    }
    const hb = create(HeartbeatSchema, { sentAtUs: -7n, spooledPosition: 10n, serverPosition: 2n ** 64n - 1n, spoolBytes: 5n, spoolLimitBytes: 6n, backPressure: true });
    const m = parseAgentMessage(toBinary(AgentMessageSchema, create(AgentMessageSchema, { body: { case: 'heartbeat', value: hb } })));
    assert.equal(m.case, 'heartbeat');
    if (m.case === 'heartbeat') {
      assert.equal(m.value.sentAtUs, -7n);
      assert.equal(m.value.serverPosition, 2n ** 64n - 1n);
      assert.equal(m.value.backPressure, true);
    }
  });

  it('parses an agent event with its JSON payload, and refuses bad kinds, oversized and non-JSON payloads', () => {
    const event = (kind: string, payload: Uint8Array) =>
      parseAgentMessage(toBinary(AgentMessageSchema, create(AgentMessageSchema, { body: { case: 'event', value: create(AgentEventSchema, { kind, payload, atUs: 5n, commandId: 'c1' }) } })));
    const ok = event('snapshot.progress', Buffer.from('{"table":"public.t","rowsDone":3}'));
    assert.deepEqual(ok, { case: 'event', value: { kind: 'snapshot.progress', payload: { table: 'public.t', rowsDone: 3 }, atUs: 5n, commandId: 'c1' } });
    assert.throws(() => event('Snapshot Progress', Buffer.from('{}')), /AgentEvent.kind/);
    assert.throws(() => event('x', Buffer.alloc(70_000, 0x20)), /exceeds 65536/);
    assert.throws(() => event('x', Buffer.from('{"a":')), /not UTF-8 JSON/);
    assert.throws(() => event('x', Uint8Array.from([0x22, 0xff, 0x22])), /not UTF-8 JSON/);
  });

  it('returns unknown for an empty message and skips unknown fields', () => {
    assert.deepEqual(parseAgentMessage(new Uint8Array(0)), { case: 'unknown' });
    assert.deepEqual(parseAgentMessage(Uint8Array.from([...lenDelimited(9, [1, 2]), ...field(10, 0), 1])), { case: 'unknown' });
    const batch = spooledBatch(4);
    const msg = parseAgentMessage(Uint8Array.from([...field(20, 0), 7, ...encodedBatchMessage(batch).encoded, ...lenDelimited(21, [0xff, 0xff])]));
    assert.equal(msg.case, 'batch');
  });

  it('never takes a body field with a non-length-delimited wire type for a batch or hello', () => {
    for (const bytes of [[...field(2, 0), 5], [...field(1, 0), 1], [...field(2, 5), 1, 2, 3, 4]]) {
      let parsed: ParsedAgentMessage;
      try {
        parsed = parseAgentMessage(Uint8Array.from(bytes));
      } catch (e) {
        assert.ok(isMalformed(e));
        continue;
      }
      assert.equal(parsed.case, 'unknown');
    }
  });

  it('refuses malformed messages with HubError malformed', () => {
    const batch = encodedBatchMessage(spooledBatch(8)).encoded;
    const cases: Array<[string, Uint8Array]> = [
      ['truncated batch frame', batch.subarray(0, batch.length - 1)],
      ['batch with sequence 0', encodedBatchMessage(withSequence(new BatchBuilder().build(1n, true), 0)).encoded],
      ['batch without a sequence', encodedBatchMessage(new BatchBuilder().build(1n, true)).encoded],
      ['hello with a wrong wire type inside', Uint8Array.from(lenDelimited(1, [...field(1, 0), 1]))],
      ['heartbeat truncated inside', Uint8Array.from(lenDelimited(3, [...field(1, 0), 0x80]))],
      ['truncated tag', Uint8Array.of(0x80)],
      ['illegal wire type', Uint8Array.of((2 << 3) | 7)],
      ['field number 0', Uint8Array.of(0x02, 0x00)],
      ['unterminated group', Uint8Array.from([...field(5, 3), ...field(1, 0), 1])],
    ];
    for (const [label, bytes] of cases) assert.throws(() => parseAgentMessage(bytes), isMalformed, label);
  });
});

describe('hubUplinkDefinition', () => {
  const def = hubUplinkDefinition.stream;

  it('serves the Uplink stream path as a bidirectional stream', () => {
    assert.equal(def.path, UPLINK_STREAM_PATH);
    assert.equal(def.requestStream, true);
    assert.equal(def.responseStream, true);
  });

  it('deserializes a framed batch from a Buffer', () => {
    const bytes = spooledBatch(77);
    const m = def.requestDeserialize(Buffer.from(encodedBatchMessage(bytes).encoded));
    assert.equal(m.case, 'batch');
    if (m.case === 'batch') assert.equal(m.header.sequence, 77);
  });

  it('returns invalid (never throws) for malformed input', () => {
    const m = def.requestDeserialize(Buffer.from(encodedBatchMessage(withSequence(new BatchBuilder().build(1n, true), 0)).encoded));
    assert.equal(m.case, 'invalid');
    if (m.case === 'invalid') {
      assert.equal(m.error.kind, 'malformed');
      assert.match(m.error.message, /sequence/);
    }
  });

  it('never throws on 2,000 random buffers (seeded)', () => {
    let seed = 0x9e3779b9;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
    const valid = encodedBatchMessage(spooledBatch(3)).encoded;
    const seen = new Set<string>();
    const started = performance.now();
    for (let i = 0; i < 2000; i++) {
      let b: Buffer;
      if (i % 4 === 3) {
        // a valid message with a few bytes changed, so the parser gets past the first tag
        b = Buffer.from(valid);
        for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        b = b.subarray(0, Math.floor(rand() * (b.length + 1)));
      } else {
        const len = Math.floor(rand() * 200);
        b = Buffer.alloc(len);
        for (let j = 0; j < len; j++) b[j] = Math.floor(rand() * 256);
        // bias toward plausible AgentMessage tags
        if (len > 0 && i % 2 === 0) b[0] = [0x0a, 0x12, 0x1a][Math.floor(rand() * 3)] as number;
      }
      let m: ParsedAgentMessage;
      try {
        m = def.requestDeserialize(b);
      } catch (e) {
        assert.fail(`requestDeserialize threw ${String(e)} on ${b.toString('hex')}`);
      }
      seen.add(m.case);
      if (m.case === 'invalid') assert.equal(m.error.kind, 'malformed');
      else assert.ok(['hello', 'heartbeat', 'batch', 'unknown'].includes(m.case), m.case);
    }
    assert.ok(seen.has('invalid'), 'the fuzz reached no parse error: the generator is broken');
    assert.ok(performance.now() - started < 3000);
  });

  it('never throws on deeply nested groups', () => {
    const deep = Buffer.alloc(200_000, (5 << 3) | 3); // start-group of field 5, nested
    const m = def.requestDeserialize(deep);
    assert.equal(m.case, 'invalid');
  });

  it('serializes hub messages with the generated codec', () => {
    const ack = create(HubMessageSchema, { body: { case: 'ack', value: create(AckSchema, { sequence: 12n }) } });
    const bytes = def.responseSerialize(ack);
    assert.ok(Buffer.isBuffer(bytes));
    const back = def.responseDeserialize(bytes);
    assert.equal(back.body.case, 'ack');
    assert.equal(back.body.case === 'ack' ? back.body.value.sequence : 0n, 12n);
    assert.throws(() => def.requestSerialize());
  });
});
