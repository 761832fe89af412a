/**
 * Decoded binlog values (as the reader yields them: numbers, exact decimal
 * strings for 64-bit integers beyond 2^53 and DECIMAL, Buffers, and
 * temporal values as the server's own text with `dateStrings` and UTC) →
 * the compact row encoding.
 *
 * Temporal semantics, kept exactly:
 * - DATETIME is a wall-clock value with no zone: a `timestamp` (no zone).
 * - TIMESTAMP is an instant: the binlog stores seconds since the epoch, read
 *   in UTC, so it lands as a `timestamptz` whatever the session time zone of
 *   the writer was.
 * - TIME is a signed duration up to ±838:59:59.999999: an interval.
 * Zero dates follow the configured ZeroDatePolicy.
 */
import type { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { AgentError } from '../../errors.js';
import type { ZeroDatePolicy } from './config.js';
import { MySqlType, type MySqlColumn } from './types.js';

type Raw = unknown;
type Write = (v: Raw, w: RowWriter) => void;

const MICROS_PER_DAY = 86_400_000_000;

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Microseconds from a fraction's digits ('5' → 500000, '123456' → 123456). */
function fractionMicros(frac: string | undefined): number {
  if (frac === undefined || frac === '') return 0;
  return Number(frac.padEnd(6, '0').slice(0, 6));
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;
const TIME_RE = /^(-)?(\d{2,3}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** Parsed date parts, or null for a zero / partial-zero date. */
function dateParts(text: string, re: RegExp): RegExpExecArray | null {
  const m = re.exec(text);
  if (m === null) throw new AgentError('protocol', `unexpected temporal value ${JSON.stringify(text)}`);
  return Number(m[1]) === 0 || Number(m[2]) === 0 || Number(m[3]) === 0 ? null : m;
}

export class RowConverter {
  private readonly names: string[];
  private readonly writers: Write[];
  private readonly keyIndexes: readonly number[];
  /** Columns whose zero dates were already reported (the warning is once per column). */
  private readonly warned = new Set<string>();

  constructor(
    readonly table: string,
    readonly columns: readonly MySqlColumn[],
    keyIndexes: readonly number[],
    private readonly zeroDates: ZeroDatePolicy,
    private readonly onZeroDate: (column: string) => void,
  ) {
    this.names = columns.map((c) => c.name);
    this.writers = columns.map((c) => this.writerFor(c));
    // Key images list the key columns in table column order (as pgoutput does
    // and the sinks expect), not in PRIMARY KEY declaration order.
    this.keyIndexes = [...keyIndexes].sort((a, b) => a - b);
  }

  writeRow(row: Record<string, Raw>, w: RowWriter): void {
    const n = this.names.length;
    w.columns(n);
    for (let i = 0; i < n; i++) {
      const v = row[this.names[i]!];
      if (v === null) w.null();
      else this.writers[i]!(v, w);
    }
  }

  writeKey(row: Record<string, Raw>, w: RowWriter): void {
    w.columns(this.keyIndexes.length);
    for (const i of this.keyIndexes) {
      const v = row[this.names[i]!];
      if (v === null) w.null();
      else this.writers[i]!(v, w);
    }
  }

  /** A row as values in column order (a snapshot SELECT's row), written exactly as `writeRow` writes the same row. */
  writeValues(values: readonly Raw[], w: RowWriter): void {
    const n = this.names.length;
    w.columns(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === null) w.null();
      else this.writers[i]!(v, w);
    }
  }

  /** The key image of a row given as values in column order. */
  writeKeyValues(values: readonly Raw[], w: RowWriter): void {
    w.columns(this.keyIndexes.length);
    for (const i of this.keyIndexes) {
      const v = values[i];
      if (v === null) w.null();
      else this.writers[i]!(v, w);
    }
  }

  private zero(column: string, text: string, w: RowWriter): void {
    if (this.zeroDates === 'error')
      throw new AgentError(
        'source-misconfigured',
        `${this.table}.${column}: zero date ${JSON.stringify(text)} has no equivalent downstream (source.zeroDates is "error"; set it to "null" to land NULL)`,
      );
    if (!this.warned.has(column)) {
      this.warned.add(column);
      this.onZeroDate(column);
    }
    w.null();
  }

  private writerFor(c: MySqlColumn): Write {
    const name = c.name;
    switch (c.kind) {
      case ValueKind.INT16:
        if (c.type === MySqlType.YEAR) return (v, w) => w.int(v === 1900 ? 0 : (v as number)); // YEAR 0000 is read as 1900 (1900 itself is not a valid YEAR)
        return (v, w) => w.int(v as number);
      case ValueKind.INT32:
        return (v, w) => w.int(v as number);
      case ValueKind.INT64:
        // Beyond 2^53 the reader yields the exact decimal text, never a rounded double.
        return (v, w) => w.int(typeof v === 'number' ? v : BigInt(v as string));
      case ValueKind.DECIMAL:
        return (v, w) => w.decimal(typeof v === 'string' ? v : String(v as number));
      case ValueKind.FLOAT32:
      case ValueKind.FLOAT64:
        return (v, w) => w.float(v as number);
      case ValueKind.BYTES:
        return (v, w) => w.bytes(v as Uint8Array);
      case ValueKind.TEXT:
      case ValueKind.ENUM:
        // An invalid ENUM value (index 0, stored under a non-strict sql_mode) reads as '' in MySQL.
        return (v, w) => (v === undefined ? w.text('') : w.text(v as string));
      case ValueKind.JSON:
        return (v, w) => w.json(v as string);
      case ValueKind.DATE:
        return (v, w) => {
          const m = dateParts(v as string, DATE_RE);
          if (m === null) return this.zero(name, v as string, w);
          w.date(daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3])));
        };
      case ValueKind.TIMESTAMP:
      case ValueKind.TIMESTAMPTZ: {
        const withZone = c.kind === ValueKind.TIMESTAMPTZ;
        return (v, w) => {
          const m = dateParts(v as string, DATETIME_RE);
          if (m === null) return this.zero(name, v as string, w);
          const days = daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
          const timeOfDay = ((Number(m[4]) * 60 + Number(m[5])) * 60 + Number(m[6])) * 1_000_000 + fractionMicros(m[7]);
          const micros = days * MICROS_PER_DAY + timeOfDay;
          // Past 2255 the microsecond count leaves the exact range of a double.
          w.timestamp(Number.isSafeInteger(micros) ? micros : BigInt(days) * BigInt(MICROS_PER_DAY) + BigInt(timeOfDay), withZone);
        };
      }
      case ValueKind.INTERVAL:
        return (v, w) => {
          const m = TIME_RE.exec(v as string);
          if (m === null) throw new AgentError('protocol', `${this.table}.${name}: unexpected TIME value ${JSON.stringify(v)}`);
          const abs = ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4])) * 1_000_000 + fractionMicros(m[5]);
          w.interval(0, 0, m[1] === '-' ? -abs : abs);
        };
      default:
        throw new AgentError('internal', `${this.table}.${name}: no converter for value kind ${c.kind}`);
    }
  }
}
