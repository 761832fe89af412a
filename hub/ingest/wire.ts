/**
 * Hub side of the Uplink framing. A ChangeBatch is not decoded at ingest:
 * the hub reads its header (sequence, position, schemas), checks that every
 * event is well-formed protobuf, and stores the batch's bytes as they came.
 * Sinks decode events later, only the ones they need.
 */
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { TableSchemaSchema, type TableSchema } from '../../proto/gen/tributary/v1/change_pb.js';
import { AgentEventSchema, HeartbeatSchema, HelloSchema, HubMessageSchema, type Heartbeat, type Hello, type HubMessage } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { UPLINK_STREAM_PATH } from '../../proto/tributary/v1/uplink-service.js';
import { HubError } from '../errors.js';

export interface BatchHeader {
  readonly sequence: number;
  readonly sourcePosition: bigint;
  readonly commitBoundary: boolean;
  readonly schemas: readonly TableSchema[];
  readonly eventCount: number;
  /** ChangeBatch.source_time_us: the source clock at the newest commit the batch completes (0 = not sent). */
  readonly sourceTimeUs: number;
}

export type IncomingAgentMessage =
  | { readonly case: 'hello'; readonly value: Hello }
  | { readonly case: 'heartbeat'; readonly value: Heartbeat }
  | { readonly case: 'batch'; readonly header: BatchHeader; readonly bytes: Uint8Array }
  | { readonly case: 'event'; readonly value: ParsedAgentEvent }
  | { readonly case: 'unknown' };

/** An agent event with its JSON payload parsed and its kind checked. */
export interface ParsedAgentEvent {
  readonly kind: string;
  readonly payload: unknown;
  readonly atUs: bigint;
  readonly commandId: string;
}

export const MAX_EVENT_PAYLOAD_BYTES = 64 << 10;
const EVENT_KIND = /^[a-z][a-z0-9_.-]{0,63}$/;

export function parseAgentEvent(body: Uint8Array): ParsedAgentEvent {
  const e = fromBinary(AgentEventSchema, body);
  if (!EVENT_KIND.test(e.kind)) throw malformed(`AgentEvent.kind ${JSON.stringify(e.kind.slice(0, 80))} is not a lower-case name of at most 64 characters`);
  if (e.payload.length > MAX_EVENT_PAYLOAD_BYTES) throw malformed(`AgentEvent.payload of ${e.payload.length} bytes exceeds ${MAX_EVENT_PAYLOAD_BYTES}`);
  if (e.commandId.length > 64) throw malformed('AgentEvent.command_id is longer than 64 characters');
  let payload: unknown;
  try {
    payload = e.payload.length === 0 ? null : JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(e.payload));
  } catch (cause) {
    throw malformed(`AgentEvent.payload of kind ${e.kind} is not UTF-8 JSON`, cause);
  }
  return { kind: e.kind, payload, atUs: e.atUs, commandId: e.commandId };
}

function malformed(what: string, cause?: unknown): HubError {
  return new HubError('malformed', `malformed message: ${what}`, cause === undefined ? undefined : { cause });
}

/** Walks a ChangeEvent's fields without materialising it: wire types must match change.proto. */
export function checkEvent(bytes: Uint8Array): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    const expected = field <= 2 || (field >= 4 && field <= 6) ? WireType.LengthDelimited : field <= 11 ? WireType.Varint : type;
    if (type !== expected) throw malformed(`ChangeEvent field ${field} has wire type ${type}`);
    r.skip(type, field);
  }
}

/** Reads a varint of at most `max` bytes ending before `end`: the position after it, or -1. */
function skipVarint(b: Uint8Array, p: number, end: number, max: number): number {
  for (let i = 0; i < max; i++) {
    if (p >= end) return -1;
    if (((b[p++] as number) & 0x80) === 0) return p;
  }
  return -1;
}

/**
 * The fast path of checkEvent, run on every event of every batch: true when
 * `b[start, end)` is a ChangeEvent whose known fields have change.proto's
 * wire types and whose unknown fields are varint, fixed or length-delimited.
 * Reads the bytes in place (no view per field). False for anything else,
 * which checkEvent then decides on and names.
 */
export function eventWellFormed(b: Uint8Array, start: number, end: number): boolean {
  let p = start;
  while (p < end) {
    let t = b[p++] as number;
    if (t >= 0x80) {
      // A multi-byte tag: only unknown fields (number 16 and up) have one.
      let shift = 7;
      t &= 0x7f;
      for (;;) {
        if (p >= end || shift > 28) return false;
        const c = b[p++] as number;
        if (shift === 28 && c > 0x0f) return false; // past uint32
        t += (c & 0x7f) * 2 ** shift;
        if (c < 0x80) break;
        shift += 7;
      }
    }
    const field = Math.floor(t / 8);
    const type = t & 7;
    if (field === 0) return false;
    if (field <= 11) {
      const ld = field <= 2 || (field >= 4 && field <= 6);
      if (type !== (ld ? WireType.LengthDelimited : WireType.Varint)) return false;
    }
    if (type === WireType.Varint) p = skipVarint(b, p, end, 10);
    else if (type === WireType.LengthDelimited) {
      let length = 0;
      let shift = 0;
      for (;;) {
        if (p >= end || shift > 28) return false;
        const c = b[p++] as number;
        if (shift === 28 && c > 0x0f) return false;
        length += (c & 0x7f) * 2 ** shift;
        if (c < 0x80) break;
        shift += 7;
      }
      p += length;
    } else if (type === WireType.Bit64) p += 8;
    else if (type === WireType.Bit32) p += 4;
    else return false;
    if (p < 0 || p > end) return false;
  }
  return true;
}

export function parseBatch(bytes: Uint8Array): BatchHeader {
  const r = new BinaryReader(bytes);
  let sequence = 0n;
  let sourcePosition = 0n;
  let commitBoundary = false;
  let eventCount = 0;
  let sourceTimeUs = 0;
  const schemas: TableSchema[] = [];
  try {
    while (r.pos < r.len) {
      const [field, type] = r.tag();
      if (field === 1 && type === WireType.Varint) sequence = BigInt(r.uint64());
      else if (field === 2 && type === WireType.LengthDelimited) schemas.push(fromBinary(TableSchemaSchema, r.bytes()));
      else if (field === 3 && type === WireType.LengthDelimited) {
        const length = r.uint32();
        const start = r.pos;
        r.pos += length;
        if (r.pos > r.len) throw malformed('ChangeBatch event runs past the end of the batch');
        if (!eventWellFormed(bytes, start, r.pos)) checkEvent(bytes.subarray(start, r.pos));
        eventCount++;
      } else if (field === 4 && type === WireType.Varint) sourcePosition = BigInt(r.uint64());
      else if (field === 5 && type === WireType.Varint) commitBoundary = r.bool();
      else if (field === 6 && type === WireType.Varint) sourceTimeUs = Number(r.int64());
      else if (field <= 6) throw malformed(`ChangeBatch field ${field} has wire type ${type}`);
      else r.skip(type, field); // a newer agent's field: ignored, kept in the stored bytes
    }
  } catch (cause) {
    throw cause instanceof HubError ? cause : malformed('ChangeBatch is not valid protobuf', cause);
  }
  if (sequence < 1n || sequence > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`ChangeBatch.sequence ${sequence} out of range`);
  return { sequence: Number(sequence), sourcePosition, commitBoundary, schemas, eventCount, sourceTimeUs };
}

export function parseAgentMessage(b: Uint8Array): IncomingAgentMessage {
  const r = new BinaryReader(b);
  let out: IncomingAgentMessage = { case: 'unknown' };
  try {
    while (r.pos < r.len) {
      const [field, type] = r.tag();
      if (type !== WireType.LengthDelimited) {
        r.skip(type, field);
        continue;
      }
      const body = r.bytes();
      if (field === 1) out = { case: 'hello', value: fromBinary(HelloSchema, body) };
      else if (field === 2) out = { case: 'batch', header: parseBatch(body), bytes: body };
      else if (field === 3) out = { case: 'heartbeat', value: fromBinary(HeartbeatSchema, body) };
      else if (field === 4) out = { case: 'event', value: parseAgentEvent(body) };
    }
  } catch (cause) {
    throw cause instanceof HubError ? cause : malformed('AgentMessage is not valid protobuf', cause);
  }
  return out;
}

/**
 * The deserializer never throws: grpc-js would answer a throwing deserializer
 * by failing the stream without a reason the agent could act on. A parse
 * failure becomes a value the ingest handler rejects with a clear code.
 */
export type ParsedAgentMessage = IncomingAgentMessage | { readonly case: 'invalid'; readonly error: HubError };

export const hubUplinkDefinition = {
  stream: {
    path: UPLINK_STREAM_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (): Buffer => {
      throw new Error('the hub does not send agent messages');
    },
    requestDeserialize: (b: Buffer): ParsedAgentMessage => {
      try {
        return parseAgentMessage(b);
      } catch (e) {
        return { case: 'invalid', error: e instanceof HubError ? e : malformed('unreadable', e) };
      }
    },
    responseSerialize: (m: HubMessage): Buffer => Buffer.from(toBinary(HubMessageSchema, m)),
    responseDeserialize: (b: Buffer): HubMessage => fromBinary(HubMessageSchema, b),
    originalName: 'stream',
  },
} satisfies ServiceDefinition;
