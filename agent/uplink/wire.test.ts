import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ChangeBatchSchema, Op } from '../../proto/gen/tributary/v1/change_pb.js';
import { AgentMessageSchema } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { BatchBuilder, withSequence } from '../buffer/batch-builder.js';
import { agentUplinkDefinition, encodedBatchMessage } from './wire.js';

function spooled(events: number, sequence: number): Uint8Array {
  const b = new BatchBuilder();
  for (let i = 0; i < events; i++)
    b.append({ schema: 'public', table: 'orders', op: Op.INSERT, key: Uint8Array.of(1, i & 0xff), before: null, after: new Uint8Array(40).fill(i & 0xff), commitPosition: 77n, indexInTx: i, commitTimeUs: 1, txid: 9, schemaVersion: 1 });
  return withSequence(b.build(77n, true), sequence);
}

describe('encodedBatchMessage', () => {
  it('frames a batch just spooled in the room in front of it, with the bytes a copy gets and the generated codec reads', () => {
    // 1 event: a one-byte length; 5,000 events: a three-byte one.
    for (const events of [1, 5_000]) {
      const batch = spooled(events, 12345);
      const before = Uint8Array.from(batch);
      const inPlace = encodedBatchMessage(batch).encoded;
      assert.equal(inPlace.buffer, batch.buffer, 'no copy for a batch with room in front');
      assert.deepEqual(batch, before, "the batch's own bytes are untouched");
      const copied = encodedBatchMessage(Uint8Array.from(batch)).encoded;
      assert.notEqual(copied.buffer, batch.buffer);
      assert.deepEqual(Buffer.from(inPlace), Buffer.from(copied));
      const m = agentUplinkDefinition.stream.requestDeserialize(agentUplinkDefinition.stream.requestSerialize({ encoded: inPlace }));
      assert.equal(m.body.case, 'batch');
      const expected = fromBinary(ChangeBatchSchema, batch);
      assert.deepEqual(toBinary(AgentMessageSchema, m), toBinary(AgentMessageSchema, { ...m, body: { case: 'batch', value: expected } }));
      assert.equal(m.body.case === 'batch' ? m.body.value.events.length : -1, events);
      // Sent again (a resend after a reconnect): the same bytes.
      assert.deepEqual(Buffer.from(encodedBatchMessage(batch).encoded), Buffer.from(copied));
    }
  });
});
