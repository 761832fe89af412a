/**
 * Agent side of the Uplink stream's framing. A ChangeBatch read from the
 * spool goes on the wire as the very bytes that were spooled: AgentMessage
 * is `oneof body { ... ChangeBatch batch = 2; ... }`, so a message holding a
 * batch is just the field-2 tag, a length and those bytes.
 */
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { AgentMessageSchema, HubMessageSchema, type AgentMessage, type HubMessage } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { UPLINK_STREAM_PATH } from '../../proto/tributary/v1/uplink-service.js';
import { putUvarint } from '../../proto/tributary/v1/row-codec.js';
import { frameInPlace } from '../buffer/batch-builder.js';

/** An AgentMessage already in wire form. */
export interface EncodedAgentMessage {
  readonly encoded: Uint8Array;
}

export type OutgoingAgentMessage = AgentMessage | EncodedAgentMessage;

const BATCH_FIELD_TAG = (2 << 3) | 2;

export function encodedBatchMessage(batchBytes: Uint8Array): EncodedAgentMessage {
  const room = new Uint8Array(11);
  room[0] = BATCH_FIELD_TAG;
  const header = room.subarray(0, putUvarint(room, 1, batchBytes.length));
  // A batch just spooled has room for the header in front of it: no copy.
  const framed = frameInPlace(batchBytes, header);
  if (framed !== null) return { encoded: framed };
  const out = Buffer.allocUnsafe(header.length + batchBytes.length);
  out.set(header, 0);
  out.set(batchBytes, header.length);
  return { encoded: out };
}

function toBuffer(m: OutgoingAgentMessage): Buffer {
  if ('encoded' in m) return Buffer.from(m.encoded.buffer, m.encoded.byteOffset, m.encoded.byteLength);
  return Buffer.from(toBinary(AgentMessageSchema, m));
}

export const agentUplinkDefinition = {
  stream: {
    path: UPLINK_STREAM_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: toBuffer,
    requestDeserialize: (b: Buffer): AgentMessage => fromBinary(AgentMessageSchema, b),
    responseSerialize: (m: HubMessage): Buffer => Buffer.from(toBinary(HubMessageSchema, m)),
    responseDeserialize: (b: Buffer): HubMessage => fromBinary(HubMessageSchema, b),
    originalName: 'stream',
  },
} satisfies ServiceDefinition;
