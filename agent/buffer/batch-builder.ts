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

const utf8 = new TextEncoder();
/** Encoded table and schema names: a handful per source, reused for every event. */
const nameCache = new Map<string, Uint8Array>();
function nameBytes(name: string): Uint8Array {
  let b = nameCache.get(name);
  if (b === undefined) {
    b = utf8.encode(name);
    if (nameCache.size < 10_000) nameCache.set(name, b);
  }
  return b;
}

/** A reusable scratch buffer: each event is written here, then copied out once. */
class Scratch {
  buf = new Uint8Array(4096);
  pos = 0;
  private view = new DataView(this.buf.buffer);

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  varint(n: number): void {
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  varint64(n: bigint): void {
    // uint64/int64 wire form: two's complement for negatives, 10 bytes.
    let u = BigInt.asUintN(64, n);
    this.ensure(10);
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  bytesField(tag: number, b: Uint8Array): void {
    this.ensure(b.length + 11);
    this.buf[this.pos++] = tag;
    this.varint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  numberField(tag: number, n: number): void {
    this.ensure(11);
    this.buf[this.pos++] = tag;
    if (n >= 0 && Number.isSafeInteger(n)) this.varint(n);
    else this.varint64(BigInt(n));
  }

  bigintField(tag: number, n: bigint): void {
    this.ensure(11);
    this.buf[this.pos++] = tag;
    if (n >= 0n && n <= 0x1fffffffffffffn) this.varint(Number(n));
    else this.varint64(n);
  }
}

const scratch = new Scratch();
const LD = 2;
const tag = (field: number, wire: number): number => (field << 3) | wire;

/**
 * Encodes one tributary.v1.ChangeEvent (fields in number order, defaults
 * omitted, exactly as the generated encoder would).
 */
export function encodeEvent(e: EventFields): Uint8Array {
  const w = scratch;
  w.pos = 0;
  if (e.schema !== '') w.bytesField(tag(1, LD), nameBytes(e.schema));
  if (e.table !== '') w.bytesField(tag(2, LD), nameBytes(e.table));
  if (e.op !== 0) w.numberField(tag(3, 0), e.op);
  if (e.key.length > 0) w.bytesField(tag(4, LD), e.key);
  if (e.before !== null && e.before.length > 0) w.bytesField(tag(5, LD), e.before);
  if (e.after !== null && e.after.length > 0) w.bytesField(tag(6, LD), e.after);
  if (e.commitPosition !== 0n) w.bigintField(tag(7, 0), e.commitPosition);
  if (e.indexInTx !== 0) w.numberField(tag(8, 0), e.indexInTx);
  if (e.commitTimeUs !== 0) w.numberField(tag(9, 0), e.commitTimeUs);
  if (e.txid !== 0) w.numberField(tag(10, 0), e.txid);
  if (e.schemaVersion !== 0) w.numberField(tag(11, 0), e.schemaVersion);
  return w.buf.slice(0, w.pos);
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

  /**
   * ChangeBatch fields 2..6; the spool prefixes field 1 (sequence). Resets the builder.
   * `sourceTimeUs`: the source clock at the newest commit the batch completes (0 = unknown).
   */
  build(sourcePosition: bigint, commitBoundary: boolean, sourceTimeUs = 0): Uint8Array {
    const w = new BinaryWriter();
    for (const s of this.schemas) w.tag(2, WireType.LengthDelimited).bytes(toBinary(TableSchemaSchema, s));
    for (const e of this.events) w.tag(3, WireType.LengthDelimited).bytes(e);
    if (sourcePosition !== 0n) w.tag(4, WireType.Varint).uint64(sourcePosition);
    if (commitBoundary) w.tag(5, WireType.Varint).bool(true);
    if (sourceTimeUs !== 0) w.tag(6, WireType.Varint).int64(sourceTimeUs);
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
