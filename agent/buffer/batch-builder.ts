/**
 * Builds the wire bytes of a ChangeBatch (without its `sequence`, which the
 * spool assigns). Each event is encoded exactly once, here, by hand-written
 * protobuf that batch-builder.test.ts checks against the generated codec: the
 * generic encoder's per-field reflection costs more than the whole decode.
 */
import { toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { TableSchemaSchema, type Op, type TableSchema } from '../../proto/gen/tributary/v1/change_pb.js';

export interface EventFields {
  readonly schema: string;
  readonly table: string;
  readonly op: Op;
  readonly key: Uint8Array;
  readonly before: Uint8Array | null;
  readonly after: Uint8Array | null;
  readonly commitPosition: bigint;
  readonly indexInTx: number;
  readonly commitTimeUs: number;
  readonly txid: number;
  readonly schemaVersion: number;
}

/** Encodes one tributary.v1.ChangeEvent. */
export function encodeEvent(e: EventFields): Uint8Array {
  const w = new BinaryWriter();
  if (e.schema !== '') w.tag(1, WireType.LengthDelimited).string(e.schema);
  if (e.table !== '') w.tag(2, WireType.LengthDelimited).string(e.table);
  if (e.op !== 0) w.tag(3, WireType.Varint).int32(e.op);
  if (e.key.length > 0) w.tag(4, WireType.LengthDelimited).bytes(e.key);
  if (e.before !== null && e.before.length > 0) w.tag(5, WireType.LengthDelimited).bytes(e.before);
  if (e.after !== null && e.after.length > 0) w.tag(6, WireType.LengthDelimited).bytes(e.after);
  if (e.commitPosition !== 0n) w.tag(7, WireType.Varint).uint64(e.commitPosition);
  if (e.indexInTx !== 0) w.tag(8, WireType.Varint).uint32(e.indexInTx);
  if (e.commitTimeUs !== 0) w.tag(9, WireType.Varint).int64(e.commitTimeUs);
  if (e.txid !== 0) w.tag(10, WireType.Varint).uint64(e.txid);
  if (e.schemaVersion !== 0) w.tag(11, WireType.Varint).uint32(e.schemaVersion);
  return w.finish();
}

/** Accumulates encoded events and schemas for one spool batch. */
export class BatchBuilder {
  private events: Uint8Array[] = [];
  private schemas: TableSchema[] = [];
  private bytes = 0;

  get eventCount(): number {
    return this.events.length;
  }

  /** Approximate encoded size, for batch-size limits. */
  get byteLength(): number {
    return this.bytes;
  }

  addSchema(schema: TableSchema): void {
    this.schemas.push(schema);
    this.bytes += 64 * (schema.columns.length + 1);
  }

  addEvent(encoded: Uint8Array): void {
    this.events.push(encoded);
    this.bytes += encoded.length + 4;
  }

  /** ChangeBatch fields 2..5; the spool prefixes field 1 (sequence). Resets the builder. */
  build(sourcePosition: bigint, commitBoundary: boolean): Uint8Array {
    const w = new BinaryWriter();
    for (const s of this.schemas) w.tag(2, WireType.LengthDelimited).bytes(toBinary(TableSchemaSchema, s));
    for (const e of this.events) w.tag(3, WireType.LengthDelimited).bytes(e);
    if (sourcePosition !== 0n) w.tag(4, WireType.Varint).uint64(sourcePosition);
    if (commitBoundary) w.tag(5, WireType.Varint).bool(true);
    this.events = [];
    this.schemas = [];
    this.bytes = 0;
    return w.finish();
  }

  /** Moves everything from `other` into this builder (other is left empty). */
  absorb(other: BatchBuilder): void {
    for (const s of other.schemas) this.addSchema(s);
    for (const e of other.events) this.addEvent(e);
    other.events = [];
    other.schemas = [];
    other.bytes = 0;
  }
}

/** Prefixes `sequence` (ChangeBatch field 1) to a built batch body. */
export function withSequence(body: Uint8Array, sequence: number): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).uint64(sequence);
  const head = w.finish();
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}
