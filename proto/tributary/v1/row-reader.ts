/** Decoding half of the compact row encoding (see row-codec.ts for the format). */
import { Tag, TS_INFINITY, TS_MINUS_INFINITY, UNCHANGED, type Value } from './row-values.js';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

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
