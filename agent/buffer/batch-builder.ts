/**
 * Builds the wire bytes of a ChangeBatch (without its `sequence`, which the
 * spool assigns). Each event is encoded exactly once, by hand-written
 * protobuf that batch-builder.test.ts checks against the generated codec (the
 * generic encoder's per-field reflection costs more than the whole decode),
 * straight into the batch's own buffer: its size is computed first, so the
 * length prefix is written before the fields and nothing is copied per event.
 */
import { toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { TableSchemaSchema, type Op, type TableSchema } from '../../proto/gen/tributary/v1/change_pb.js';
import { putUvarint } from '../../proto/tributary/v1/row-codec.js';

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

const LD = 2;
const tag = (field: number, wire: number): number => (field << 3) | wire;
/** ChangeBatch.events (field 3, length-delimited). */
const EVENT_TAG = tag(3, LD);
const MAX_SAFE = 0x1fffffffffffffn;
/** A builder's buffer above this size is dropped after its batch is built. */
const SHRINK_ABOVE = 16 << 20;

/** Bytes of a varint of a non-negative safe integer. */
function varintSize(n: number): number {
  let s = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    s++;
  }
  return s;
}

/** Bytes of an int64/uint64 field value: negatives and values past 2^53 take the 64-bit form. */
function numberSize(n: number): number {
  return n >= 0 && Number.isSafeInteger(n) ? varintSize(n) : bigSize(BigInt(n));
}

function bigSize(n: bigint): number {
  if (n >= 0n && n <= MAX_SAFE) return varintSize(Number(n));
  let u = BigInt.asUintN(64, n);
  let s = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    s++;
  }
  return s;
}

const bytesSize = (b: Uint8Array): number => 1 + varintSize(b.length) + b.length;

/** Encoded size of one ChangeEvent (fields in number order, defaults omitted). */
function eventSize(e: EventFields, schema: Uint8Array, table: Uint8Array): number {
  let s = 0;
  if (schema.length > 0) s += bytesSize(schema);
  if (table.length > 0) s += bytesSize(table);
  if (e.op !== 0) s += 1 + numberSize(e.op);
  if (e.key.length > 0) s += bytesSize(e.key);
  if (e.before !== null && e.before.length > 0) s += bytesSize(e.before);
  if (e.after !== null && e.after.length > 0) s += bytesSize(e.after);
  if (e.commitPosition !== 0n) s += 1 + bigSize(e.commitPosition);
  if (e.indexInTx !== 0) s += 1 + numberSize(e.indexInTx);
  if (e.commitTimeUs !== 0) s += 1 + numberSize(e.commitTimeUs);
  if (e.txid !== 0) s += 1 + numberSize(e.txid);
  if (e.schemaVersion !== 0) s += 1 + numberSize(e.schemaVersion);
  return s;
}

/** A growable byte buffer written front to back. */
class Bytes {
  buf: Uint8Array;
  pos = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Varint of a non-negative safe integer (room for it ensured by the caller). */
  varint(n: number): void {
    this.pos = putUvarint(this.buf, this.pos, n);
  }

  varint64(n: bigint): void {
    // uint64/int64 wire form: two's complement for negatives, 10 bytes.
    let u = BigInt.asUintN(64, n);
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  raw(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  bytesField(t: number, b: Uint8Array): void {
    this.buf[this.pos++] = t;
    this.varint(b.length);
    this.raw(b);
  }

  numberField(t: number, n: number): void {
    this.buf[this.pos++] = t;
    if (n >= 0 && Number.isSafeInteger(n)) this.varint(n);
    else this.varint64(BigInt(n));
  }

  bigintField(t: number, n: bigint): void {
    this.buf[this.pos++] = t;
    if (n >= 0n && n <= MAX_SAFE) this.varint(Number(n));
    else this.varint64(n);
  }

  /** One ChangeEvent's fields; the caller made room for `size` bytes. */
  event(e: EventFields, schema: Uint8Array, table: Uint8Array): void {
    if (schema.length > 0) this.bytesField(tag(1, LD), schema);
    if (table.length > 0) this.bytesField(tag(2, LD), table);
    if (e.op !== 0) this.numberField(tag(3, 0), e.op);
    if (e.key.length > 0) this.bytesField(tag(4, LD), e.key);
    if (e.before !== null && e.before.length > 0) this.bytesField(tag(5, LD), e.before);
    if (e.after !== null && e.after.length > 0) this.bytesField(tag(6, LD), e.after);
    if (e.commitPosition !== 0n) this.bigintField(tag(7, 0), e.commitPosition);
    if (e.indexInTx !== 0) this.numberField(tag(8, 0), e.indexInTx);
    if (e.commitTimeUs !== 0) this.numberField(tag(9, 0), e.commitTimeUs);
    if (e.txid !== 0) this.numberField(tag(10, 0), e.txid);
    if (e.schemaVersion !== 0) this.numberField(tag(11, 0), e.schemaVersion);
  }
}

/**
 * Encodes one tributary.v1.ChangeEvent on its own (fields in number order,
 * defaults omitted, exactly as the generated encoder would). Batches encode
 * in place (BatchBuilder.append); this is for single messages and tests.
 */
export function encodeEvent(e: EventFields): Uint8Array {
  const schema = nameBytes(e.schema);
  const table = nameBytes(e.table);
  const w = new Bytes(eventSize(e, schema, table));
  w.event(e, schema, table);
  return w.buf;
}

/** The fields a run of events shares (a snapshot chunk's READ rows at one position). */
export type SharedFields = Omit<EventFields, 'key' | 'before' | 'after' | 'indexInTx'>;

/**
 * SharedFields encoded once, in the three pieces that surround an event's
 * own fields in field-number order: 1–3 (names, op), 7 (position), 9–11.
 */
export class EventTemplate {
  readonly head: Uint8Array;
  readonly position: Uint8Array;
  readonly tail: Uint8Array;

  constructor(e: SharedFields) {
    const none = new Uint8Array(0);
    const piece = (fields: EventFields): Uint8Array => encodeEvent(fields);
    const base: EventFields = { schema: '', table: '', op: 0, key: none, before: null, after: null, commitPosition: 0n, indexInTx: 0, commitTimeUs: 0, txid: 0, schemaVersion: 0 };
    this.head = piece({ ...base, schema: e.schema, table: e.table, op: e.op });
    this.position = piece({ ...base, commitPosition: e.commitPosition });
    this.tail = piece({ ...base, commitTimeUs: e.commitTimeUs, txid: e.txid, schemaVersion: e.schemaVersion });
  }
}

/**
 * Room the uplink may use in front of a spooled batch for the header that
 * makes it an AgentMessage (a field tag and a length of up to 5 bytes; see
 * frameInPlace).
 */
const FRAME_ROOM = 6;
/**
 * Room kept in front of a built body for the `sequence` field the spool puts
 * there (a tag and a varint of up to 10 bytes), then FRAME_ROOM: withSequence
 * writes in place instead of copying the whole batch behind it.
 */
const HEADROOM = 11 + FRAME_ROOM;
/** Bodies built with HEADROOM in front that withSequence has not used yet. */
const roomy = new WeakSet<Uint8Array>();
/** Spooled batches (withSequence's in-place results) with FRAME_ROOM in front of them. */
const framable = new WeakSet<Uint8Array>();

function eventsBuffer(size: number): Bytes {
  const b = new Bytes(size);
  b.pos = HEADROOM;
  return b;
}

/**
 * When a spooled batch is cut: at `events` events or `bytes` encoded bytes,
 * whichever comes first (`spool.batchEvents`, `spool.batchBytes`): a batch
 * exceeds `bytes` by at most its last event.
 */
export interface BatchLimit {
  readonly events: number;
  readonly bytes: number;
}

/** Accumulates encoded events and schemas for one spool batch. */
export class BatchBuilder {
  /** Events as ChangeBatch field 3, each with its tag and length, in order, after HEADROOM. */
  private events = eventsBuffer(64 << 10);
  private count = 0;
  private schemas: TableSchema[] = [];
  private schemaBytes = 0;

  get eventCount(): number {
    return this.count;
  }

  /** Approximate encoded size, for batch-size limits. */
  get byteLength(): number {
    return this.events.pos - HEADROOM + this.schemaBytes;
  }

  /** True once the batch holds `limit`'s events or bytes. */
  reached(limit: BatchLimit): boolean {
    return this.count >= limit.events || this.events.pos - HEADROOM + this.schemaBytes >= limit.bytes;
  }

  addSchema(schema: TableSchema): void {
    this.schemas.push(schema);
    this.schemaBytes += 64 * (schema.columns.length + 1);
  }

  /** Encodes one event into the batch. */
  append(e: EventFields): void {
    const schema = nameBytes(e.schema);
    const table = nameBytes(e.table);
    const size = eventSize(e, schema, table);
    const w = this.events;
    w.ensure(size + 11);
    w.buf[w.pos++] = EVENT_TAG;
    w.varint(size);
    w.event(e, schema, table);
    this.count++;
  }

  /**
   * Encodes one event made of a template's shared fields and its own: the
   * same bytes as `append` with all the fields, without encoding the shared
   * ones again.
   */
  appendFrom(t: EventTemplate, key: Uint8Array, before: Uint8Array | null, after: Uint8Array | null, indexInTx: number): void {
    let size = t.head.length + t.position.length + t.tail.length;
    if (key.length > 0) size += bytesSize(key);
    if (before !== null && before.length > 0) size += bytesSize(before);
    if (after !== null && after.length > 0) size += bytesSize(after);
    if (indexInTx !== 0) size += 1 + numberSize(indexInTx);
    const w = this.events;
    w.ensure(size + 11);
    w.buf[w.pos++] = EVENT_TAG;
    w.varint(size);
    w.raw(t.head);
    if (key.length > 0) w.bytesField(tag(4, LD), key);
    if (before !== null && before.length > 0) w.bytesField(tag(5, LD), before);
    if (after !== null && after.length > 0) w.bytesField(tag(6, LD), after);
    w.raw(t.position);
    if (indexInTx !== 0) w.numberField(tag(8, 0), indexInTx);
    w.raw(t.tail);
    this.count++;
  }

  /** Adds an event already encoded (encodeEvent). */
  addEvent(encoded: Uint8Array): void {
    const w = this.events;
    w.ensure(encoded.length + 11);
    w.bytesField(EVENT_TAG, encoded);
    this.count++;
  }

  /**
   * ChangeBatch fields 2..6; the spool prefixes field 1 (sequence). Resets the builder.
   * `sourceTimeUs`: the source clock at the newest commit the batch completes (0 = unknown).
   */
  build(sourcePosition: bigint, commitBoundary: boolean, sourceTimeUs = 0): Uint8Array {
    const tail = new BinaryWriter();
    if (sourcePosition !== 0n) tail.tag(4, WireType.Varint).uint64(sourcePosition);
    if (commitBoundary) tail.tag(5, WireType.Varint).bool(true);
    if (sourceTimeUs !== 0) tail.tag(6, WireType.Varint).int64(sourceTimeUs);
    const trailer = tail.finish();
    let body: Uint8Array;
    if (this.schemas.length === 0) {
      // The usual batch: the events buffer itself becomes the body, no copy.
      const w = this.events;
      w.ensure(trailer.length);
      w.raw(trailer);
      body = w.buf.subarray(HEADROOM, w.pos);
      this.events = eventsBuffer(Math.min(w.buf.length, SHRINK_ABOVE));
    } else {
      const head = new BinaryWriter();
      for (const s of this.schemas) head.tag(2, WireType.LengthDelimited).bytes(toBinary(TableSchemaSchema, s));
      const schemas = head.finish();
      const events = this.events.buf.subarray(HEADROOM, this.events.pos);
      const out = new Uint8Array(HEADROOM + schemas.length + events.length + trailer.length);
      out.set(schemas, HEADROOM);
      out.set(events, HEADROOM + schemas.length);
      out.set(trailer, HEADROOM + schemas.length + events.length);
      body = out.subarray(HEADROOM);
    }
    roomy.add(body);
    this.reset();
    return body;
  }

  private reset(): void {
    // A batch of huge rows does not keep its buffer for ever.
    if (this.events.buf.length > SHRINK_ABOVE) this.events = eventsBuffer(64 << 10);
    this.events.pos = HEADROOM;
    this.count = 0;
    this.schemas = [];
    this.schemaBytes = 0;
  }

  /** Moves everything from `other` into this builder (other is left empty). */
  absorb(other: BatchBuilder): void {
    for (const s of other.schemas) this.addSchema(s);
    const w = this.events;
    w.ensure(other.events.pos - HEADROOM);
    w.raw(other.events.buf.subarray(HEADROOM, other.events.pos));
    this.count += other.count;
    other.reset();
  }
}

/**
 * Prefixes `sequence` (ChangeBatch field 1) to a built batch body: in the
 * room BatchBuilder.build left in front of it (once per body), else by a copy.
 */
export function withSequence(body: Uint8Array, sequence: number): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).uint64(sequence);
  const head = w.finish();
  if (roomy.delete(body) && body.byteOffset >= head.length + FRAME_ROOM) {
    const out = prefixInPlace(body, head);
    framable.add(out);
    return out;
  }
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/**
 * `header` followed by a spooled batch, written into the room in front of the
 * batch when withSequence left it there (the bytes before a batch belong to
 * no one else, and every sender writes the same header), else null: the
 * caller copies. The batch's own bytes are not touched.
 */
export function frameInPlace(batch: Uint8Array, header: Uint8Array): Uint8Array | null {
  return header.length > FRAME_ROOM || !framable.has(batch) ? null : prefixInPlace(batch, header);
}

/** `head` written into the bytes right in front of `bytes` (the caller owns them), and a view of both. */
function prefixInPlace(bytes: Uint8Array, head: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.buffer, bytes.byteOffset - head.length, head.length + bytes.length);
  out.set(head, 0);
  return out;
}
