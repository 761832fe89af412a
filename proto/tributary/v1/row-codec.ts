/**
 * The compact row encoding: the byte format of ChangeEvent.key/before/after.
 *
 *   row    = varint(columnCount) value*
 *   value  = tag payload
 *
 * | tag | meaning            | payload                                                   |
 * | --- | ------------------ | --------------------------------------------------------- |
 * | 0   | NULL               | none                                                      |
 * | 1   | unchanged (TOAST)  | none: the source did not send it; keep the stored value   |
 * | 2/3 | false / true       | none                                                      |
 * | 4   | integer            | zigzag varint, full int64 range                           |
 * | 5   | float              | 8 bytes IEEE-754 little endian (NaN, ±Infinity kept)      |
 * | 6   | decimal            | len + ASCII decimal text, exact ("NaN", "Infinity" too)   |
 * | 7   | text               | len + UTF-8                                               |
 * | 8   | bytes              | len + raw bytes                                           |
 * | 9   | uuid               | 16 bytes                                                  |
 * | 10  | date               | zigzag varint days since 1970-01-01; int32 max/min = ±infinity |
 * | 11  | time               | varint microseconds since midnight                        |
 * | 12  | time with zone     | varint microseconds, zigzag varint UTC offset in seconds (east positive) |
 * | 13  | timestamp          | zigzag varint microseconds since 1970-01-01 (no zone); int64 max/min = ±infinity; PostgreSQL's last days (294276 AD) lie just past int64, so this varint may use 65 bits |
 * | 14  | timestamp with zone| as 13, the instant in UTC                                 |
 * | 15  | interval           | zigzag varint months, days, microseconds                  |
 * | 16  | json               | len + UTF-8 JSON text, as the source stored it            |
 * | 17  | array              | varint ndims, ndims × (varint length, zigzag varint lower bound), then the elements row-major, each a value |
 *
 * Reading is lazy: the hub decodes a row only when a sink needs its values.
 */

export const Tag = {
  Null: 0,
  Unchanged: 1,
  False: 2,
  True: 3,
  Int: 4,
  Float: 5,
  Decimal: 6,
  Text: 7,
  Bytes: 8,
  Uuid: 9,
  Date: 10,
  Time: 11,
  TimeTz: 12,
  Timestamp: 13,
  TimestampTz: 14,
  Interval: 15,
  Json: 16,
  Array: 17,
} as const;

/** Marker for a value the source did not send (unchanged TOAST); never the same as NULL. */
export const UNCHANGED: unique symbol = Symbol('unchanged');
export type Unchanged = typeof UNCHANGED;

export type Value =
  | null
  | Unchanged
  | boolean
  | bigint
  | number
  | string
  | Uint8Array
  | { readonly kind: 'decimal'; readonly text: string }
  | { readonly kind: 'uuid'; readonly text: string }
  | { readonly kind: 'date'; readonly days: number }
  | { readonly kind: 'time'; readonly micros: number }
  | { readonly kind: 'timetz'; readonly micros: number; readonly offsetSeconds: number }
  | { readonly kind: 'timestamp'; readonly micros: number | bigint }
  | { readonly kind: 'timestamptz'; readonly micros: number | bigint }
  | { readonly kind: 'interval'; readonly months: number; readonly days: number; readonly micros: number }
  | { readonly kind: 'json'; readonly text: string }
  | { readonly kind: 'array'; readonly dims: readonly number[]; readonly lower: readonly number[]; readonly items: readonly Value[] };

/** PostgreSQL's own sentinels for infinite dates and timestamps. */
export const DATE_INFINITY = 2147483647;
export const DATE_MINUS_INFINITY = -2147483648;
const TS_INFINITY = 9223372036854775807n;
const TS_MINUS_INFINITY = -9223372036854775808n;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

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
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
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

/** Bad bytes in a row image: names the offset so a corrupt batch can be located. */
export class RowDecodeError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`row image: ${message} at byte ${offset}`);
    this.name = 'RowDecodeError';
  }
}

/** Decodes a whole row. Throws RowDecodeError on malformed input; never reads out of bounds. */
export function decodeRow(bytes: Uint8Array): Value[] {
  const r = new RowReader(bytes);
  const n = r.uvarint();
  if (n > bytes.length) throw new RowDecodeError(`column count ${n} exceeds row size`, 0);
  const out: Value[] = new Array<Value>(n);
  for (let i = 0; i < n; i++) out[i] = r.value();
  if (r.pos !== bytes.length) throw new RowDecodeError('trailing bytes', r.pos);
  return out;
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

function uuidText(b: Uint8Array): string {
  const h = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

class RowReader {
  pos = 0;
  private readonly view: DataView;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new RowDecodeError(`needs ${n} more bytes`, this.pos);
  }

  /** Unsigned varint as a number if safe, else bigint. */
  uvarintAny(): number | bigint {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const b = this.buf[this.pos++] as number;
      if (i === 9 && b > 3) throw new RowDecodeError('varint exceeds 66 bits', this.pos - 1);
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (Number.isSafeInteger(result)) return result;
        return this.reread(i + 1);
      }
      mul *= 128;
    }
    throw new RowDecodeError('varint longer than 10 bytes', this.pos);
  }

  private reread(len: number): bigint {
    let r = 0n;
    for (let i = len - 1; i >= 0; i--) r = (r << 7n) | BigInt((this.buf[this.pos - len + i] as number) & 0x7f);
    return r;
  }

  uvarint(): number {
    const v = this.uvarintAny();
    if (typeof v === 'bigint') throw new RowDecodeError('length out of range', this.pos);
    return v;
  }

  svarintAny(): number | bigint {
    const u = this.uvarintAny();
    if (typeof u === 'number') return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
    return (u & 1n) === 0n ? u >> 1n : -((u + 1n) >> 1n);
  }

  svarint(): number {
    const v = this.svarintAny();
    if (typeof v === 'number') return v;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new RowDecodeError('value out of range', this.pos);
    return n;
  }

  private lenBytes(): Uint8Array {
    const n = this.uvarint();
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  private str(): string {
    const b = this.lenBytes();
    try {
      return utf8Decoder.decode(b);
    } catch (cause) {
      throw Object.assign(new RowDecodeError('invalid UTF-8', this.pos), { cause });
    }
  }

  private micros(): number | bigint {
    const v = this.svarintAny();
    if (typeof v === 'number') return v;
    if (v === TS_INFINITY) return Infinity;
    if (v === TS_MINUS_INFINITY) return -Infinity;
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }

  value(depth = 0): Value {
    this.need(1);
    const tag = this.buf[this.pos++] as number;
    switch (tag) {
      case Tag.Null:
        return null;
      case Tag.Unchanged:
        return UNCHANGED;
      case Tag.False:
        return false;
      case Tag.True:
        return true;
      case Tag.Int: {
        const v = this.svarintAny();
        if (typeof v === 'number') return BigInt(v);
        if (v > TS_INFINITY || v < TS_MINUS_INFINITY) throw new RowDecodeError('integer outside int64', this.pos);
        return v;
      }
      case Tag.Float: {
        this.need(8);
        const v = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return v;
      }
      case Tag.Decimal:
        return { kind: 'decimal', text: this.str() };
      case Tag.Text:
        return this.str();
      case Tag.Bytes:
        // A copy: `slice` on a Node Buffer would return a view of the batch.
        return new Uint8Array(this.lenBytes());
      case Tag.Uuid: {
        this.need(16);
        const b = this.buf.subarray(this.pos, this.pos + 16);
        this.pos += 16;
        return { kind: 'uuid', text: uuidText(b) };
      }
      case Tag.Date:
        return { kind: 'date', days: this.svarint() };
      case Tag.Time:
        return { kind: 'time', micros: this.uvarint() };
      case Tag.TimeTz: {
        const micros = this.uvarint();
        return { kind: 'timetz', micros, offsetSeconds: this.svarint() };
      }
      case Tag.Timestamp:
        return { kind: 'timestamp', micros: this.micros() };
      case Tag.TimestampTz:
        return { kind: 'timestamptz', micros: this.micros() };
      case Tag.Interval: {
        const months = this.svarint();
        const days = this.svarint();
        return { kind: 'interval', months, days, micros: this.svarint() };
      }
      case Tag.Json:
        return { kind: 'json', text: this.str() };
      case Tag.Array:
        return this.array(depth);
      default:
        throw new RowDecodeError(`unknown value tag ${tag}`, this.pos - 1);
    }
  }

  private array(depth: number): Value {
    if (depth > 6) throw new RowDecodeError('array nesting too deep', this.pos);
    const ndims = this.uvarint();
    if (ndims > 6) throw new RowDecodeError(`array has ${ndims} dimensions`, this.pos);
    const dims: number[] = [];
    const lower: number[] = [];
    let count = ndims === 0 ? 0 : 1;
    for (let i = 0; i < ndims; i++) {
      dims.push(this.uvarint());
      lower.push(this.svarint());
      count *= dims[i] as number;
    }
    if (count > this.buf.length - this.pos) throw new RowDecodeError(`array of ${count} items exceeds row size`, this.pos);
    const items: Value[] = [];
    for (let i = 0; i < count; i++) items.push(this.value(depth + 1));
    return { kind: 'array', dims, lower, items };
  }
}

