/**
 * Value -> PostgreSQL text input, sent as a text bind parameter with an
 * explicit cast. Every format here is one PostgreSQL parses exactly and
 * independently of the session's DateStyle, IntervalStyle and TimeZone.
 */
import { DATE_INFINITY, DATE_MINUS_INFINITY, UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';

const MICROS_PER_DAY = 86_400_000_000;

/** The text parameter for a value; null for SQL NULL. Throws RangeError for UNCHANGED (the caller must never send it). */
export function toPgParam(v: Value): string | null {
  if (v === null) return null;
  if (v === UNCHANGED) throw new RangeError('an unchanged (TOAST) value has no text form');
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return floatText(v);
    case 'boolean':
      return v ? 't' : 'f';
    case 'string':
      return v;
  }
  if (v instanceof Uint8Array) return '\\x' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  switch (v.kind) {
    case 'decimal':
    case 'uuid':
    case 'json':
      return v.text;
    case 'date':
      return dateText(v.days);
    case 'time':
      return timeText(v.micros);
    case 'timetz':
      return timeText(v.micros) + offsetText(v.offsetSeconds);
    case 'timestamp':
      return timestampText(v.micros);
    case 'timestamptz':
      return v.micros === Infinity || v.micros === -Infinity ? timestampText(v.micros) : timestampText(v.micros) + '+00';
    case 'interval':
      return intervalText(v.months, v.days, v.micros);
    case 'array':
      return arrayText(v.dims, v.lower, v.items);
  }
}

/** Shortest text that reads back as the same double (JS's own algorithm); -0 keeps its sign. */
export function floatText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (v === 0 && Object.is(v, -0)) return '-0';
  return String(v);
}

/**
 * Proleptic Gregorian civil date from days since 1970-01-01 (Howard Hinnant's
 * civil_from_days). JS Date is not used: PostgreSQL dates run from 4713 BC to
 * 5874897 AD, well beyond what Date represents.
 */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** 'YYYY-MM-DD' plus ' BC' suffix handled by the callers; astronomical year 0 is 1 BC. */
function ymd(days: number): { text: string; bc: boolean } {
  const { year, month, day } = civilFromDays(days);
  const bc = year <= 0;
  return { text: `${pad(bc ? 1 - year : year, 4)}-${pad(month, 2)}-${pad(day, 2)}`, bc };
}

export function dateText(days: number): string {
  if (days === DATE_INFINITY) return 'infinity';
  if (days === DATE_MINUS_INFINITY) return '-infinity';
  const { text, bc } = ymd(days);
  return bc ? `${text} BC` : text;
}

/** 'HH:MM:SS.ffffff'; 24:00:00 (a valid PostgreSQL time) comes out as such. */
export function timeText(micros: number): string {
  const frac = micros % 1_000_000;
  const secs = (micros - frac) / 1_000_000;
  const s = secs % 60;
  const m = ((secs - s) / 60) % 60;
  const h = (secs - s - m * 60) / 3600;
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(frac, 6)}`;
}

/** '+HH:MM:SS', east of UTC positive (ISO 8601 sign, which PostgreSQL's input also uses). */
export function offsetText(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const a = Math.abs(offsetSeconds);
  return `${sign}${pad(Math.floor(a / 3600), 2)}:${pad(Math.floor(a / 60) % 60, 2)}:${pad(a % 60, 2)}`;
}

/** 'YYYY-MM-DD HH:MM:SS.ffffff[ BC]' from microseconds since 1970-01-01 00:00 (no zone). */
export function timestampText(micros: number | bigint): string {
  if (micros === Infinity) return 'infinity';
  if (micros === -Infinity) return '-infinity';
  let days: number;
  let timeOfDay: number;
  if (typeof micros === 'bigint') {
    // Beyond 2^53 µs (before 1685 or after 2255): exact integer division.
    const perDay = BigInt(MICROS_PER_DAY);
    let d = micros / perDay;
    if (micros % perDay < 0n) d -= 1n;
    days = Number(d);
    timeOfDay = Number(micros - d * perDay);
  } else {
    days = Math.floor(micros / MICROS_PER_DAY);
    timeOfDay = micros - days * MICROS_PER_DAY;
  }
  const { text, bc } = ymd(days);
  const time = timeText(timeOfDay);
  return bc ? `${text} ${time} BC` : `${text} ${time}`;
}

/**
 * Every field carries an explicit sign: without one, IntervalStyle=sql_standard
 * applies a leading minus to all later fields. Not ISO 8601 ('P..T..S'):
 * PostgreSQL parses its fractional seconds through a double and loses
 * microseconds beyond 2^53 / 10^6 seconds; integer microseconds stay exact.
 */
export function intervalText(months: number, days: number, micros: number): string {
  const signed = (n: number) => (n < 0 ? String(n) : `+${n}`);
  return `${signed(months)} mons ${signed(days)} days ${signed(micros)} microseconds`;
}

/**
 * An array literal: every non-NULL element double-quoted with backslash and
 * quote escaped, so element text can never be read as syntax; nested braces per
 * dimension; a '[lo:hi]...=' prefix when any lower bound is not 1.
 */
export function arrayText(dims: readonly number[], lower: readonly number[], items: readonly Value[]): string {
  if (dims.length === 0 || dims.some((d) => d === 0)) return '{}';
  let index = 0;
  const build = (dim: number): string => {
    const parts: string[] = [];
    const len = dims[dim] ?? 0;
    for (let i = 0; i < len; i++) {
      if (dim + 1 < dims.length) parts.push(build(dim + 1));
      else parts.push(arrayElement(items[index++]));
    }
    return `{${parts.join(',')}}`;
  };
  const body = build(0);
  if (index !== items.length) throw new RangeError(`array has ${items.length} items for dimensions ${dims.join('x')}`);
  if (lower.every((lo) => lo === 1)) return body;
  const bounds = dims.map((d, i) => `[${lower[i] ?? 1}:${(lower[i] ?? 1) + d - 1}]`).join('');
  return `${bounds}=${body}`;
}

function arrayElement(v: Value | undefined): string {
  if (v === undefined) throw new RangeError('array has fewer items than its dimensions');
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && v.kind === 'array') {
    throw new RangeError('array items must be scalars (dimensions describe the nesting)');
  }
  const text = toPgParam(v);
  if (text === null) return 'NULL';
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
