import { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import type { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { asciiString, bytesEqual, CH_0, CH_9, CH_DOT, CH_MINUS, CH_PLUS, HEX, ValueSyntaxError } from './convert-syntax.js';
import { writeDate, writeInterval, writeTime, writeTimestamp, writeTimeTz } from './convert-temporal.js';

/**
 * One non-array value: PostgreSQL's text output in buf[start, end) written to
 * `w` as `kind`. Throws ValueSyntaxError when the text is not what PostgreSQL
 * prints for that type under REPLICATION_SESSION_SETTINGS.
 */
export function writeScalar(kind: ValueKind, buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  switch (kind) {
    case ValueKind.TEXT:
    case ValueKind.ENUM:
      // Already UTF-8 on the wire: copy the bytes, never decode and re-encode.
      return w.textRange(buf, start, end);
    case ValueKind.INT16:
    case ValueKind.INT32:
    case ValueKind.INT64:
      return writeInt(buf, start, end, w);
    case ValueKind.BOOL:
      return writeBool(buf, start, end, w);
    case ValueKind.DECIMAL:
      return writeDecimal(buf, start, end, w);
    case ValueKind.TIMESTAMPTZ:
      return writeTimestamp(buf, start, end, true, w);
    case ValueKind.TIMESTAMP:
      return writeTimestamp(buf, start, end, false, w);
    case ValueKind.FLOAT32:
    case ValueKind.FLOAT64:
      return writeFloat(buf, start, end, w);
    case ValueKind.JSON:
    case ValueKind.JSONB:
      return w.jsonRange(buf, start, end);
    case ValueKind.UUID:
      return writeUuid(buf, start, end, w);
    case ValueKind.BYTES:
      return writeBytea(buf, start, end, w);
    case ValueKind.DATE:
      return writeDate(buf, start, end, w);
    case ValueKind.TIME:
      return writeTime(buf, start, end, w);
    case ValueKind.TIMETZ:
      return writeTimeTz(buf, start, end, w);
    case ValueKind.INTERVAL:
      return writeInterval(buf, start, end, w);
    default:
      throw new ValueSyntaxError(`no text conversion for value kind ${kind}`);
  }
}

function writeBool(buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  const c = end - start === 1 ? buf[start] : 0;
  if (c === 0x74 /* t */) return w.bool(true);
  if (c === 0x66 /* f */) return w.bool(false);
  throw new ValueSyntaxError('expected t or f');
}

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

/** Up to 15 digits fit a double exactly; longer values (bigint range) go through BigInt. */
function writeInt(buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  let p = start;
  const negative = buf[p] === CH_MINUS;
  if (negative) p++;
  const digits = end - p;
  if (digits < 1 || digits > 19) throw new ValueSyntaxError('bad integer');
  let v = 0;
  for (; p < end; p++) {
    const d = (buf[p] as number) - CH_0;
    if (d < 0 || d > 9) throw new ValueSyntaxError('bad integer');
    v = v * 10 + d;
  }
  if (digits <= 15) return w.int(negative ? -v : v);
  const big = BigInt(asciiString(buf, start, end));
  if (big < INT8_MIN || big > INT8_MAX) throw new ValueSyntaxError('integer out of int8 range');
  w.int(big);
}

/**
 * extra_float_digits=3 makes PostgreSQL print the shortest text that reads back
 * to the same float4/float8 (its Ryu output), so Number(text) is exact for
 * float8; for float4 it yields the double nearest that decimal, which rounds
 * back to the same float4 (Math.fround) and shows as PostgreSQL shows it.
 */
function writeFloat(buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  if (end === start) throw new ValueSyntaxError('empty float');
  // Number() would also accept hex, whitespace and "+Infinity"; only PostgreSQL's forms pass.
  for (let p = start; p < end; p++) {
    const c = buf[p] as number;
    if (!((c >= CH_0 && c <= CH_9) || c === CH_DOT || c === 0x65 || c === CH_MINUS || c === CH_PLUS)) {
      if (bytesEqual(buf, start, end, 'NaN')) return w.float(NaN);
      if (bytesEqual(buf, start, end, 'Infinity')) return w.float(Infinity);
      if (bytesEqual(buf, start, end, '-Infinity')) return w.float(-Infinity);
      throw new ValueSyntaxError('bad float');
    }
  }
  const v = Number(asciiString(buf, start, end));
  if (Number.isNaN(v)) throw new ValueSyntaxError('bad float');
  w.float(v);
}

/** numeric_out never uses exponents: `-?digits(.digits)?`, or NaN / ±Infinity (PostgreSQL 14+). */
function writeDecimal(buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  let p = start;
  if (buf[p] === CH_MINUS) p++;
  const intStart = p;
  while (p < end && (buf[p] as number) >= CH_0 && (buf[p] as number) <= CH_9) p++;
  let ok = p > intStart;
  if (ok && p < end && buf[p] === CH_DOT) {
    const fracStart = ++p;
    while (p < end && (buf[p] as number) >= CH_0 && (buf[p] as number) <= CH_9) p++;
    ok = p > fracStart;
  }
  if (!ok || p !== end) {
    const special =
      bytesEqual(buf, start, end, 'NaN') || bytesEqual(buf, start, end, 'Infinity') || bytesEqual(buf, start, end, '-Infinity');
    if (!special) throw new ValueSyntaxError('bad numeric');
  }
  w.decimalRange(buf, start, end);
}

/** Decoded bytea and uuid bytes; RowWriter copies them, so one scratch buffer serves every value. */
let scratch = new Uint8Array(256);
const uuidScratch = new Uint8Array(16);

/** bytea_output=hex: `\x` followed by two hex digits per byte. */
function writeBytea(buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  const hexLen = end - start - 2;
  if (hexLen < 0 || buf[start] !== 0x5c || buf[start + 1] !== 0x78 || hexLen % 2 !== 0) {
    throw new ValueSyntaxError('bad bytea (expected \\x hex format)');
  }
  const n = hexLen / 2;
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  for (let i = 0, p = start + 2; i < n; i++, p += 2) {
    const hi = HEX[buf[p] as number] as number;
    const lo = HEX[buf[p + 1] as number] as number;
    if (hi < 0 || lo < 0) throw new ValueSyntaxError('bad hex digit in bytea');
    scratch[i] = (hi << 4) | lo;
  }
  w.bytes(scratch.subarray(0, n));
}

/** uuid_out: 8-4-4-4-12 hex digits. */
function writeUuid(buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  if (end - start !== 36) throw new ValueSyntaxError('bad uuid');
  let p = start;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) {
      if (buf[p] !== CH_MINUS) throw new ValueSyntaxError('bad uuid');
      p++;
    }
    const hi = HEX[buf[p] as number] as number;
    const lo = HEX[buf[p + 1] as number] as number;
    if (hi < 0 || lo < 0) throw new ValueSyntaxError('bad uuid');
    uuidScratch[i] = (hi << 4) | lo;
    p += 2;
  }
  w.uuid(uuidScratch);
}
