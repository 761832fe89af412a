/** Encoding half of the compact row encoding (see row-codec.ts for the format). */
import { Tag, TS_INFINITY, TS_MINUS_INFINITY, UNCHANGED, type Value } from './row-values.js';

const utf8 = new TextEncoder();

/**
 * Writes the varint of a non-negative safe integer at `b[p]` (room for 10
 * bytes assumed); returns the position after it. Integer operations only:
 * past 31 bits the low 28 bits go first, then the rest (at most 25 bits) as
 * one integer, without floating-point division.
 */
export function putUvarint(b: Uint8Array, p: number, n: number): number {
  if (n >= 0x80000000) {
    const lo = n >>> 0;
    const hi = (n - lo) / 0x100000000;
    b[p++] = (lo & 0x7f) | 0x80;
    b[p++] = ((lo >>> 7) & 0x7f) | 0x80;
    b[p++] = ((lo >>> 14) & 0x7f) | 0x80;
    b[p++] = ((lo >>> 21) & 0x7f) | 0x80;
    n = (lo >>> 28) | (hi << 4);
  }
  while (n >= 0x80) {
    b[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  b[p++] = n;
  return p;
}

/** Appends encoded values to a growable buffer. Reused across rows: call `reset()`. */
export class RowWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialSize = 1024) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  reset(): this {
    this.pos = 0;
    return this;
  }

  /** A copy of the bytes written since the last reset. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /**
   * The bytes written since the last reset, without a copy: the writer
   * continues in a new buffer of the same size (for a result that is handed
   * on whole, such as a transfer to another thread).
   */
  detach(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    this.buf = new Uint8Array(this.buf.length);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
    return out;
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned varint of a non-negative safe integer. */
  uvarint(n: number): void {
    this.ensure(10);
    this.pos = putUvarint(this.buf, this.pos, n);
  }

  private uvarintBig(n: bigint): void {
    this.ensure(10);
    while (n >= 0x80n) {
      this.buf[this.pos++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.buf[this.pos++] = Number(n);
  }

  /** Zigzag varint of a safe integer (or bigint for the full int64 range). */
  svarint(n: number | bigint): void {
    if (typeof n === 'number') {
      if (!Number.isSafeInteger(n)) throw new RangeError(`not a safe integer: ${n}`);
      // Zigzag doubles the magnitude: beyond 2^52 that is no longer exact in a double.
      if (n >= 2 ** 52 || n <= -(2 ** 52)) return this.svarint(BigInt(n));
      this.uvarint(n >= 0 ? n * 2 : -n * 2 - 1);
    } else {
      this.uvarintBig(n >= 0n ? n << 1n : (-n << 1n) - 1n);
    }
  }

  columns(count: number): this {
    this.uvarint(count);
    return this;
  }

  null(): void {
    this.byte(Tag.Null);
  }
  unchanged(): void {
    this.byte(Tag.Unchanged);
  }
  bool(v: boolean): void {
    this.byte(v ? Tag.True : Tag.False);
  }
  int(v: number | bigint): void {
    this.byte(Tag.Int);
    this.svarint(v);
  }
  float(v: number): void {
    this.byte(Tag.Float);
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  decimal(text: string): void {
    this.byte(Tag.Decimal);
    this.str(text);
  }
  text(v: string): void {
    this.byte(Tag.Text);
    this.str(v);
  }
  /** Text already encoded as UTF-8 (copied straight from the source's buffer). */
  textUtf8(bytes: Uint8Array): void {
    this.byte(Tag.Text);
    this.lenBytes(bytes);
  }
  /** Text already UTF-8 in `buf[start, end)`: copied, never decoded (as textUtf8, without a view). */
  textRange(buf: Uint8Array, start: number, end: number): void {
    this.tagged(Tag.Text, buf, start, end);
  }
  /** JSON already UTF-8 in `buf[start, end)`. */
  jsonRange(buf: Uint8Array, start: number, end: number): void {
    this.tagged(Tag.Json, buf, start, end);
  }
  /** A decimal's ASCII text in `buf[start, end)` (checked by the caller): what `decimal(text)` writes. */
  decimalRange(buf: Uint8Array, start: number, end: number): void {
    this.tagged(Tag.Decimal, buf, start, end);
  }
  private tagged(tag: number, buf: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.byte(tag);
    this.uvarint(n);
    this.ensure(n);
    const out = this.buf;
    let o = this.pos;
    // Short values byte by byte: cheaper than the view `set` needs.
    if (n <= 32) for (let p = start; p < end; p++) out[o++] = buf[p] as number;
    else {
      out.set(buf.subarray(start, end), o);
      o += n;
    }
    this.pos = o;
  }
  bytes(v: Uint8Array): void {
    this.byte(Tag.Bytes);
    this.lenBytes(v);
  }
  uuid(sixteen: Uint8Array): void {
    if (sixteen.length !== 16) throw new RangeError('uuid needs 16 bytes');
    this.byte(Tag.Uuid);
    this.ensure(16);
    this.buf.set(sixteen, this.pos);
    this.pos += 16;
  }
  date(days: number): void {
    this.byte(Tag.Date);
    this.svarint(days);
  }
  time(micros: number): void {
    this.byte(Tag.Time);
    this.uvarint(micros);
  }
  timetz(micros: number, offsetSeconds: number): void {
    this.byte(Tag.TimeTz);
    this.uvarint(micros);
    this.svarint(offsetSeconds);
  }
  /**
   * Microseconds since 1970-01-01: a number when exact, a bigint beyond 2^53
   * (PostgreSQL's range needs 63 bits), ±Infinity for infinite timestamps.
   */
  timestamp(micros: number | bigint, withZone: boolean): void {
    this.byte(withZone ? Tag.TimestampTz : Tag.Timestamp);
    if (micros === Infinity) this.svarint(TS_INFINITY);
    else if (micros === -Infinity) this.svarint(TS_MINUS_INFINITY);
    else this.svarint(micros);
  }
  interval(months: number, days: number, micros: number): void {
    this.byte(Tag.Interval);
    this.svarint(months);
    this.svarint(days);
    this.svarint(micros);
  }
  json(text: string): void {
    this.byte(Tag.Json);
    this.str(text);
  }
  jsonUtf8(bytes: Uint8Array): void {
    this.byte(Tag.Json);
    this.lenBytes(bytes);
  }
  /** Starts an array; the caller then writes product(dims) element values. */
  arrayStart(dims: readonly number[], lower: readonly number[]): void {
    this.byte(Tag.Array);
    this.uvarint(dims.length);
    for (let i = 0; i < dims.length; i++) {
      this.uvarint(dims[i] ?? 0);
      this.svarint(lower[i] ?? 1);
    }
  }

  private str(s: string): void {
    this.lenBytes(utf8.encode(s));
  }

  private lenBytes(b: Uint8Array): void {
    this.uvarint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

/** Encodes a row of decoded values (the inverse of decodeRow). */
export function encodeRow(values: readonly Value[], w = new RowWriter()): Uint8Array {
  w.reset().columns(values.length);
  for (const v of values) writeValue(w, v);
  return w.finish();
}

export function writeValue(w: RowWriter, v: Value): void {
  if (v === null) return w.null();
  if (v === UNCHANGED) return w.unchanged();
  switch (typeof v) {
    case 'boolean':
      return w.bool(v);
    case 'bigint':
      return w.int(v);
    case 'number':
      return w.float(v);
    case 'string':
      return w.text(v);
  }
  if (v instanceof Uint8Array) return w.bytes(v);
  switch (v.kind) {
    case 'decimal':
      return w.decimal(v.text);
    case 'uuid':
      return w.uuid(uuidToBytes(v.text));
    case 'date':
      return w.date(v.days);
    case 'time':
      return w.time(v.micros);
    case 'timetz':
      return w.timetz(v.micros, v.offsetSeconds);
    case 'timestamp':
      return w.timestamp(v.micros, false);
    case 'timestamptz':
      return w.timestamp(v.micros, true);
    case 'interval':
      return w.interval(v.months, v.days, v.micros);
    case 'json':
      return w.json(v.text);
    case 'array':
      w.arrayStart(v.dims, v.lower);
      for (const item of v.items) writeValue(w, item);
      return;
  }
}

export function uuidToBytes(text: string): Uint8Array {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a uuid: ${JSON.stringify(text)}`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}
