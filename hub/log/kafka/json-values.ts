/**
 * Typed values as JSON text in Debezium's conventions (JsonConverter with
 * schemas disabled), written by hand so int64 keeps every digit:
 *
 *   int16/32/64      number (all digits, never rounded through a double)
 *   float32/64       number; NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity"
 *   numeric          string, exact ("12.30", "NaN") — decimal.handling.mode=string
 *   bytes            base64 string — binary.handling.mode=base64
 *   date             days since 1970-01-01 (io.debezium.time.Date)
 *   time             microseconds since midnight (io.debezium.time.MicroTime)
 *   timetz           "HH:MM:SS.ffffffZ" in UTC (io.debezium.time.ZonedTime)
 *   timestamp        microseconds since the epoch (io.debezium.time.MicroTimestamp)
 *   timestamptz      "YYYY-MM-DDTHH:MM:SS.ffffffZ" (io.debezium.time.ZonedTimestamp)
 *   interval         ISO-8601 "P1Y2M3DT4H5M6.000007S" — interval.handling.mode=string
 *   json/jsonb       the JSON document as a string (io.debezium.data.Json)
 *   uuid, enum, text string
 *   array            JSON array (nested for more dimensions)
 *   unchanged TOAST  "__debezium_unavailable_value", Debezium's placeholder
 */
import { TS_INFINITY, TS_MINUS_INFINITY, UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';

export const UNAVAILABLE = '__debezium_unavailable_value';
const MICROS_PER_DAY = 86_400_000_000n;

function pad(n: number | bigint, width: number): string {
  return String(n).padStart(width, '0');
}

/** Proleptic Gregorian civil date from days since 1970-01-01 (Howard Hinnant's civil_from_days). */
function civil(days: number): { y: number; m: number; d: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: era * 400 + yoe + (m <= 2 ? 1 : 0), m, d };
}

function clock(micros: bigint): string {
  const s = micros / 1_000_000n;
  return `${pad(s / 3600n, 2)}:${pad((s / 60n) % 60n, 2)}:${pad(s % 60n, 2)}.${pad(micros % 1_000_000n, 6)}`;
}

/** ISO-8601 instant in UTC; years outside 0000..9999 get a sign and more digits, as ISO-8601 extended years do. */
export function isoTimestamp(micros: bigint): string {
  let days = micros / MICROS_PER_DAY;
  let rest = micros % MICROS_PER_DAY;
  if (rest < 0n) {
    rest += MICROS_PER_DAY;
    days -= 1n;
  }
  const { y, m, d } = civil(Number(days));
  const year = y >= 0 && y <= 9999 ? pad(y, 4) : `${y < 0 ? '-' : '+'}${pad(Math.abs(y), 6)}`;
  return `${year}-${pad(m, 2)}-${pad(d, 2)}T${clock(rest)}Z`;
}

function timetzUtc(micros: number, offsetSeconds: number): string {
  // PostgreSQL's offset is seconds east of UTC; the instant in UTC wraps within the day.
  let utc = BigInt(micros) - BigInt(offsetSeconds) * 1_000_000n;
  utc = ((utc % MICROS_PER_DAY) + MICROS_PER_DAY) % MICROS_PER_DAY;
  return `${clock(utc)}Z`;
}

function isoInterval(months: number, days: number, micros: number): string {
  const us = BigInt(micros);
  const sign = us < 0n ? '-' : '';
  const abs = us < 0n ? -us : us;
  const h = abs / 3_600_000_000n;
  const mi = (abs / 60_000_000n) % 60n;
  const s = (abs / 1_000_000n) % 60n;
  const frac = abs % 1_000_000n;
  return `P${Math.trunc(months / 12)}Y${months % 12}M${days}DT${sign}${h}H${sign}${mi}M${sign}${s}.${pad(frac, 6)}S`;
}

function floatText(v: number): string {
  if (Number.isNaN(v)) return '"NaN"';
  if (v === Infinity) return '"Infinity"';
  if (v === -Infinity) return '"-Infinity"';
  return JSON.stringify(v);
}

function timestampMicros(v: number | bigint): bigint | 'infinity' | '-infinity' {
  if (v === Infinity || v === TS_INFINITY) return 'infinity';
  if (v === -Infinity || v === TS_MINUS_INFINITY) return '-infinity';
  return BigInt(v);
}

/** Array items nested by dimension ({{1,2},{3,4}} → [[1,2],[3,4]]). */
function arrayText(dims: readonly number[], items: readonly Value[], start: number): string {
  const [n = 0, ...inner] = dims;
  if (inner.length === 0) return `[${items.slice(start, start + n).map(jsonValue).join(',')}]`;
  const size = inner.reduce((a, b) => a * b, 1);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(arrayText(inner, items, start + i * size));
  return `[${parts.join(',')}]`;
}

export function jsonValue(v: Value): string {
  if (v === null) return 'null';
  if (v === UNCHANGED) return JSON.stringify(UNAVAILABLE);
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'number':
      return floatText(v);
    case 'string':
      return JSON.stringify(v);
    default:
      break;
  }
  if (v instanceof Uint8Array) return `"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}"`;
  switch (v.kind) {
    case 'decimal':
    case 'uuid':
    case 'json':
      return JSON.stringify(v.text);
    case 'date':
      // ±infinity stay PostgreSQL's sentinels, 2147483647 and -2147483648 days.
      return String(v.days);
    case 'time':
      return String(v.micros);
    case 'timetz':
      return `"${timetzUtc(v.micros, v.offsetSeconds)}"`;
    case 'timestamp': {
      const t = timestampMicros(v.micros);
      return typeof t === 'bigint' ? t.toString() : `"${t}"`;
    }
    case 'timestamptz': {
      const t = timestampMicros(v.micros);
      return `"${typeof t === 'bigint' ? isoTimestamp(t) : t}"`;
    }
    case 'interval':
      return `"${isoInterval(v.months, v.days, v.micros)}"`;
    case 'array':
      return v.dims.length === 0 ? '[]' : arrayText(v.dims, v.items, 0);
  }
}
