import { DATE_INFINITY, DATE_MINUS_INFINITY } from '../../../proto/tributary/v1/row-codec.js';
import type { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { bytesEqual, CH_0, CH_COLON, CH_DOT, CH_MINUS, CH_PLUS, CH_SPACE, fixedDigits, ValueSyntaxError } from './convert-syntax.js';

/**
 * Dates, times, timestamps and intervals as PostgreSQL prints them with
 * DateStyle=ISO, TimeZone=UTC and IntervalStyle=iso_8601. Values are computed
 * from their fields (days-from-civil), never through Date, so microseconds
 * and proleptic Gregorian dates thousands of years BC stay exact.
 */

const US_PER_SECOND = 1_000_000;
const US_PER_MINUTE = 60 * US_PER_SECOND;
const US_PER_HOUR = 60 * US_PER_MINUTE;
const US_PER_DAY = 24 * US_PER_HOUR;
/** Below this many days from 1970, days * US_PER_DAY plus a time of day stays under 2^53, so plain numbers are exact. */
const EXACT_DAYS = 100_000;

/** Parse cursor shared by the helpers below; parsing is synchronous, so one suffices. */
let pos = 0;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil); `year` is astronomical. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** PostgreSQL prints years <= 0 as `1 - year` with a trailing " BC". */
function hasBc(buf: Uint8Array, start: number, end: number): boolean {
  return end - start > 3 && buf[end - 3] === CH_SPACE && buf[end - 2] === 0x42 && buf[end - 1] === 0x43;
}

/** `Y...Y-MM-DD` at `pos` (years may have more than 4 digits) to days since 1970. */
function dateFields(buf: Uint8Array, end: number, bc: boolean): number {
  let year = 0;
  const yearStart = pos;
  while (pos < end && pos - yearStart < 8) {
    const d = (buf[pos] as number) - CH_0;
    if (d < 0 || d > 9) break;
    year = year * 10 + d;
    pos++;
  }
  if (pos - yearStart < 4 || pos + 6 > end || buf[pos] !== CH_MINUS || buf[pos + 3] !== CH_MINUS) {
    throw new ValueSyntaxError('bad date');
  }
  const month = fixedDigits(buf, pos + 1, end, 2);
  const day = fixedDigits(buf, pos + 4, end, 2);
  pos += 6;
  if (year === 0 || month < 1 || month > 12 || day < 1) throw new ValueSyntaxError('bad date');
  const astronomical = bc ? 1 - year : year;
  if (day > daysInMonth(astronomical, month)) throw new ValueSyntaxError('day out of range');
  return daysFromCivil(astronomical, month, day);
}

/** `HH:MM:SS[.f{1,6}]` at `pos` to microseconds; 24:00:00 is valid for time columns. */
function timeOfDay(buf: Uint8Array, end: number): number {
  if (pos + 8 > end) throw new ValueSyntaxError('bad time');
  const h = fixedDigits(buf, pos, end, 2);
  const m = fixedDigits(buf, pos + 3, end, 2);
  const s = fixedDigits(buf, pos + 6, end, 2);
  if (h < 0 || m < 0 || s < 0 || buf[pos + 2] !== CH_COLON || buf[pos + 5] !== CH_COLON) {
    throw new ValueSyntaxError('bad time');
  }
  pos += 8;
  let micros = 0;
  if (pos < end && buf[pos] === CH_DOT) {
    pos++;
    let scale = US_PER_SECOND;
    const fracStart = pos;
    while (pos < end && pos - fracStart < 6) {
      const d = (buf[pos] as number) - CH_0;
      if (d < 0 || d > 9) break;
      scale /= 10;
      micros += d * scale;
      pos++;
    }
    if (pos === fracStart) throw new ValueSyntaxError('bad fraction');
  }
  const total = h * US_PER_HOUR + m * US_PER_MINUTE + s * US_PER_SECOND + micros;
  if (m > 59 || s > 59 || total > US_PER_DAY) throw new ValueSyntaxError('time out of range');
  return total;
}

/** `+HH[:MM[:SS]]` at `pos` to seconds east of UTC (PostgreSQL prints east as +). */
function zoneOffset(buf: Uint8Array, end: number): number {
  const sign = pos < end ? buf[pos] : 0;
  if (sign !== CH_PLUS && sign !== CH_MINUS) throw new ValueSyntaxError('missing UTC offset');
  let seconds = fixedDigits(buf, pos + 1, end, 2) * 3600;
  if (seconds < 0) throw new ValueSyntaxError('bad UTC offset');
  pos += 3;
  for (let mul = 60; mul >= 1 && pos < end && buf[pos] === CH_COLON; mul /= 60) {
    const v = fixedDigits(buf, pos + 1, end, 2);
    if (v < 0 || v > 59) throw new ValueSyntaxError('bad UTC offset');
    seconds += v * mul;
    pos += 3;
  }
  return sign === CH_MINUS ? -seconds : seconds;
}

function expectEnd(end: number): void {
  if (pos !== end) throw new ValueSyntaxError('unexpected trailing text');
}

export function writeDate(buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  if (bytesEqual(buf, start, end, 'infinity')) return w.date(DATE_INFINITY);
  if (bytesEqual(buf, start, end, '-infinity')) return w.date(DATE_MINUS_INFINITY);
  const bc = hasBc(buf, start, end);
  const stop = bc ? end - 3 : end;
  pos = start;
  const days = dateFields(buf, stop, bc);
  expectEnd(stop);
  w.date(days);
}

export function writeTime(buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  pos = start;
  const micros = timeOfDay(buf, end);
  expectEnd(end);
  w.time(micros);
}

/** Keeps the local time and its offset, as PostgreSQL stores timetz, rather than normalising to UTC. */
export function writeTimeTz(buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  pos = start;
  const micros = timeOfDay(buf, end);
  const offset = zoneOffset(buf, end);
  expectEnd(end);
  w.timetz(micros, offset);
}

/**
 * Microseconds since 1970-01-01 UTC of a timestamp's text, ±Infinity for
 * 'infinity'/'-infinity'. A number when exact (|value| < 2^53), else a bigint:
 * PostgreSQL's range (4714 BC to 294276 AD) needs 63 bits.
 */
export function parseTimestamp(buf: Uint8Array, start: number, end: number, withZone: boolean): number | bigint {
  if (bytesEqual(buf, start, end, 'infinity')) return Infinity;
  if (bytesEqual(buf, start, end, '-infinity')) return -Infinity;
  const bc = hasBc(buf, start, end);
  const stop = bc ? end - 3 : end;
  pos = start;
  const days = dateFields(buf, stop, bc);
  if (pos >= stop || buf[pos] !== CH_SPACE) throw new ValueSyntaxError('bad timestamp');
  pos++;
  let micros = timeOfDay(buf, stop);
  // With TimeZone=UTC the offset is always +00, but honour any offset PostgreSQL prints.
  if (withZone) micros -= zoneOffset(buf, stop) * US_PER_SECOND;
  expectEnd(stop);
  if (days > -EXACT_DAYS && days < EXACT_DAYS) return days * US_PER_DAY + micros;
  const big = BigInt(days) * BigInt(US_PER_DAY) + BigInt(micros);
  const n = Number(big);
  return Number.isSafeInteger(n) ? n : big;
}

export function writeTimestamp(buf: Uint8Array, start: number, end: number, withZone: boolean, w: RowWriter): void {
  w.timestamp(parseTimestamp(buf, start, end, withZone), withZone);
}

/**
 * ISO 8601 intervals as IntervalStyle=iso_8601 prints them: `P1Y2M3DT4H5M6.789S`,
 * each field with its own sign (`P-1Y-2M3DT-4H-5M-6.789S`), `PT0S` for zero.
 * Years and months fold into months, hours to seconds into microseconds, like
 * PostgreSQL's own (months, days, microseconds) representation.
 */
export function writeInterval(buf: Uint8Array, start: number, end: number, w: RowWriter): void {
  if (buf[start] !== 0x50 /* P */ || end - start < 3) throw new ValueSyntaxError('bad interval');
  pos = start + 1;
  let months = 0;
  let days = 0;
  let micros = 0;
  let inTime = false;
  while (pos < end) {
    if (buf[pos] === 0x54 /* T */ && !inTime) {
      inTime = true;
      pos++;
      continue;
    }
    const negative = buf[pos] === CH_MINUS;
    if (negative) pos++;
    const whole = intervalNumber(buf, end);
    let fraction = 0;
    if (pos < end && buf[pos] === CH_DOT) fraction = intervalFraction(buf, end);
    if (pos >= end) throw new ValueSyntaxError('interval number without unit');
    const unit = buf[pos++];
    if (fraction !== 0 && !(inTime && unit === 0x53)) throw new ValueSyntaxError('fraction outside seconds');
    const sign = negative ? -1 : 1;
    if (!inTime && unit === 0x59 /* Y */) months += sign * whole * 12;
    else if (!inTime && unit === 0x4d /* M */) months += sign * whole;
    else if (!inTime && unit === 0x44 /* D */) days += sign * whole;
    else if (inTime && unit === 0x48 /* H */) micros += sign * whole * US_PER_HOUR;
    else if (inTime && unit === 0x4d /* M */) micros += sign * whole * US_PER_MINUTE;
    else if (inTime && unit === 0x53 /* S */) micros += sign * (whole * US_PER_SECOND + fraction);
    else throw new ValueSyntaxError('bad interval unit');
  }
  if (!Number.isSafeInteger(micros) || !Number.isSafeInteger(months) || !Number.isSafeInteger(days)) {
    throw new ValueSyntaxError('interval out of range');
  }
  w.interval(months, days, micros);
}

function intervalNumber(buf: Uint8Array, end: number): number {
  const from = pos;
  let v = 0;
  while (pos < end) {
    const d = (buf[pos] as number) - CH_0;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    pos++;
  }
  if (pos === from || pos - from > 15) throw new ValueSyntaxError('bad interval number');
  return v;
}

/** `.f{1,6}` at `pos` to microseconds. */
function intervalFraction(buf: Uint8Array, end: number): number {
  pos++;
  const from = pos;
  let scale = US_PER_SECOND;
  let v = 0;
  while (pos < end && pos - from < 6) {
    const d = (buf[pos] as number) - CH_0;
    if (d < 0 || d > 9) break;
    scale /= 10;
    v += d * scale;
    pos++;
  }
  if (pos === from) throw new ValueSyntaxError('bad interval fraction');
  return v;
}
