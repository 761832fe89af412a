/**
 * `COPY (SELECT ...) TO STDOUT (FORMAT binary)` for snapshot chunks. Binary
 * values skip the server's text output and the agent's text parsing, the two
 * costliest steps of a chunk for integers, floats, dates and timestamps.
 * Every value still lands exactly as the stream writes it:
 *
 * - types whose binary form maps one to one onto a row-codec value (BINARY
 *   below) are read in binary;
 * - any other column is selected as `column::text`, which for a type without
 *   a cast to text of its own is the type's output function — the text
 *   pgoutput sends — and goes through the stream's own text converter;
 * - a table with a column whose type has its own cast to text (boolean and
 *   the network types have one; boolean is read in binary anyway) is read in
 *   the text format, as before.
 *
 * Binary format (PostgreSQL manual, COPY, "Binary Format"): an 11-byte
 * signature, a 32-bit flags field and a header extension; then per row a
 * 16-bit field count and, per field, a 32-bit length (-1 for NULL) and the
 * bytes; a field count of -1 ends the data. All integers are big-endian.
 */
import { DATE_INFINITY, DATE_MINUS_INFINITY, type RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { AgentError } from '../../errors.js';
import { ValueSyntaxError } from './convert-syntax.js';
import { CopyToStdout } from './copy-out.js';

/** How a column is read in a binary COPY (Text: selected as `::text`, read by the stream's text converter). */
export const BinaryKind = {
  Text: 0,
  Bool: 1,
  Int2: 2,
  Int4: 3,
  Int8: 4,
  Float8: 5,
  Utf8: 6,
  Bytes: 7,
  Json: 8,
  Jsonb: 9,
  Uuid: 10,
  Date: 11,
  Time: 12,
  Timestamp: 13,
  TimestampTz: 14,
} as const;
export type BinaryKind = (typeof BinaryKind)[keyof typeof BinaryKind];

/** Base type OIDs read in binary, and how. */
const BINARY: ReadonlyMap<number, BinaryKind> = new Map<number, BinaryKind>([
  [16, BinaryKind.Bool],
  [17, BinaryKind.Bytes],
  [20, BinaryKind.Int8],
  [21, BinaryKind.Int2],
  [23, BinaryKind.Int4],
  [25, BinaryKind.Utf8],
  [114, BinaryKind.Json],
  [701, BinaryKind.Float8],
  [1042, BinaryKind.Utf8],
  [1043, BinaryKind.Utf8],
  [1082, BinaryKind.Date],
  [1083, BinaryKind.Time],
  [1114, BinaryKind.Timestamp],
  [1184, BinaryKind.TimestampTz],
  [2950, BinaryKind.Uuid],
  [3802, BinaryKind.Jsonb],
]);

/**
 * Each column's BinaryKind from its base type OID (domains resolved), or
 * null when some column can be read neither in binary nor as `::text`
 * (`ownTextCast`: the base types with a cast to text other than their output function).
 */
export function binaryPlan(baseTypes: readonly number[], ownTextCast: ReadonlySet<number>): Int32Array | null {
  const plan = new Int32Array(baseTypes.length);
  for (let i = 0; i < baseTypes.length; i++) {
    const oid = baseTypes[i] as number;
    const kind = BINARY.get(oid);
    if (kind !== undefined) plan[i] = kind;
    else if (ownTextCast.has(oid)) return null;
    else plan[i] = BinaryKind.Text;
  }
  return plan;
}

/** The base types whose cast to text is not their output function (pg_cast). */
export const OWN_TEXT_CAST_SQL = "SELECT castsource::int AS oid FROM pg_catalog.pg_cast WHERE casttarget = 'pg_catalog.text'::pg_catalog.regtype AND castmethod <> 'i'";

/** Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_US = 946_684_800_000_000;
/** Days from 1970-01-01 to 2000-01-01. */
const PG_EPOCH_DAYS = 10_957;
const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;
const TWO_32 = 4294967296;

const int32 = (b: Uint8Array, p: number): number => ((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number);
const uint32 = (b: Uint8Array, p: number): number => int32(b, p) >>> 0;
const int16 = (b: Uint8Array, p: number): number => (((b[p] as number) << 24) | ((b[p + 1] as number) << 16)) >> 16;

/** A big-endian int64: a number when exact, else a bigint. */
function int64(b: Uint8Array, p: number): number | bigint {
  const hi = int32(b, p);
  const lo = uint32(b, p + 4);
  // |hi| < 2^20: the value is below 2^52 in magnitude, exact as a double.
  if (hi < 0x100000 && hi >= -0x100000) return hi * TWO_32 + lo;
  const big = (BigInt(hi) << 32n) | BigInt(lo);
  const n = Number(big);
  return Number.isSafeInteger(n) ? n : big;
}

const scratch = new DataView(new ArrayBuffer(8));

function expectLength(kind: BinaryKind, length: number, expected: number): void {
  if (length !== expected) throw new ValueSyntaxError(`binary value of ${length} bytes where kind ${kind} has ${expected}`);
}

/** Writes a binary value of `kind` (not Text) from `buf[start, end)`: the row-codec value its text form converts to. */
export function writeBinaryValue(kind: BinaryKind, buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  const length = end - start;
  switch (kind) {
    case BinaryKind.Bool:
      expectLength(kind, length, 1);
      return w.bool(buf[start] !== 0);
    case BinaryKind.Int2:
      expectLength(kind, length, 2);
      return w.int(int16(buf, start));
    case BinaryKind.Int4:
      expectLength(kind, length, 4);
      return w.int(int32(buf, start));
    case BinaryKind.Int8:
      expectLength(kind, length, 8);
      return w.int(int64(buf, start));
    case BinaryKind.Float8:
      expectLength(kind, length, 8);
      for (let i = 0; i < 8; i++) scratch.setUint8(i, buf[start + i] as number);
      return w.float(scratch.getFloat64(0));
    case BinaryKind.Utf8:
      return w.textRange(buf, start, end);
    case BinaryKind.Bytes:
      return w.bytes(buf.subarray(start, end));
    case BinaryKind.Json:
      return w.jsonRange(buf, start, end);
    case BinaryKind.Jsonb:
      // A version byte (1), then the same text jsonb_out prints.
      if (length < 1 || buf[start] !== 1) throw new ValueSyntaxError(`jsonb binary version ${buf[start]} is not 1`);
      return w.jsonRange(buf, start + 1, end);
    case BinaryKind.Uuid:
      expectLength(kind, length, 16);
      return w.uuid(buf.subarray(start, end));
    case BinaryKind.Date: {
      expectLength(kind, length, 4);
      const days = int32(buf, start);
      return w.date(days === INT32_MAX ? DATE_INFINITY : days === INT32_MIN ? DATE_MINUS_INFINITY : days + PG_EPOCH_DAYS);
    }
    case BinaryKind.Time: {
      expectLength(kind, length, 8);
      return w.time(Number(int64(buf, start)));
    }
    case BinaryKind.Timestamp:
    case BinaryKind.TimestampTz: {
      expectLength(kind, length, 8);
      const hi = int32(buf, start);
      const lo = uint32(buf, start + 4);
      const withZone = kind === BinaryKind.TimestampTz;
      if (hi === INT32_MAX && lo === 0xffffffff) return w.timestamp(Infinity, withZone);
      if (hi === INT32_MIN && lo === 0) return w.timestamp(-Infinity, withZone);
      const pg = int64(buf, start);
      if (typeof pg === 'number') {
        const unix = pg + PG_EPOCH_US;
        if (Number.isSafeInteger(unix)) return w.timestamp(unix, withZone);
      }
      return w.timestamp(BigInt(pg) + BigInt(PG_EPOCH_US), withZone);
    }
    default:
      throw new ValueSyntaxError(`no binary conversion for kind ${kind}`);
  }
}

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

/**
 * COPY's binary format: `onRow` receives each row as `spans` over `data`
 * (`spans[2i]`/`spans[2i + 1]` the field's start and end, start -1 for
 * NULL), valid only during the call.
 */
export class BinaryCopyOut extends CopyToStdout {
  private header = false;
  private ended = false;
  private readonly spans: Int32Array;

  constructor(
    text: string,
    private readonly fields: number,
    private readonly onRow: (data: Buffer, spans: Int32Array) => void,
  ) {
    super(text);
    this.spans = new Int32Array(2 * fields);
  }

  protected unfinished(rest: Buffer | null): string | null {
    return rest !== null || !this.header || !this.ended ? 'binary COPY output ended inside a row' : null;
  }

  /** Reads the header and every whole row in `data`; returns the bytes used. */
  protected consume(data: Buffer): number {
    let p = 0;
    if (!this.header) {
      if (data.length < 19) return 0;
      for (let i = 0; i < SIGNATURE.length; i++) if (data[i] !== SIGNATURE[i]) throw new AgentError('protocol', 'binary COPY output has no PGCOPY signature');
      if ((int32(data, 11) & 0x10000) !== 0) throw new AgentError('protocol', 'binary COPY output carries OIDs');
      const extension = int32(data, 15);
      if (data.length < 19 + extension) return 0;
      p = 19 + extension;
      this.header = true;
    }
    const spans = this.spans;
    while (!this.ended && p + 2 <= data.length) {
      const count = int16(data, p);
      if (count === -1) {
        this.ended = true;
        return p + 2;
      }
      if (count !== this.fields) throw new AgentError('protocol', `binary COPY row has ${count} fields, expected ${this.fields}`);
      let q = p + 2;
      let whole = true;
      for (let i = 0; i < count; i++) {
        if (q + 4 > data.length) {
          whole = false;
          break;
        }
        const length = int32(data, q);
        q += 4;
        if (length === -1) {
          spans[2 * i] = -1;
          continue;
        }
        if (length < 0) throw new AgentError('protocol', `binary COPY field of length ${length}`);
        if (q + length > data.length) {
          whole = false;
          break;
        }
        spans[2 * i] = q;
        spans[2 * i + 1] = q + length;
        q += length;
      }
      if (!whole) break;
      this.onRow(data, spans);
      this.rows++;
      p = q;
    }
    return p;
  }
}
