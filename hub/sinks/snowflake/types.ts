/**
 * The Snowflake type mapping, in one table: per source value kind, the
 * column type, the JSON form of a value in the staged file, and the COPY
 * expression that turns staged element `$1[i]` into the column type. Values
 * Snowflake cannot hold are refused with a RangeError naming them (README).
 */
import { ValueKind, type Column } from '../../../proto/gen/tributary/v1/change_pb.js';
import { DATE_INFINITY, DATE_MINUS_INFINITY, UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';
import { numericTypmod } from '../merge/numeric-typmod.js';
import { civilFromDays, floatText, timeText } from '../postgres/values.js';

type Present = Exclude<Value, null | typeof UNCHANGED>;

interface Mapping {
  /** `dialect` is the source's (TableSchema.source_dialect), which the column's source type is written in. */
  readonly type: (col: Column, dialect: string) => string;
  /** JSON text of the staged value. */
  readonly json: (v: Present, col: Column, dialect: string) => string;
  /** COPY expression for staged element `e` (e.g. `$1[3]`). */
  readonly load: (e: string, col: Column, dialect: string) => string;
}

/** NUMBER holds 38 digits; wider or unconstrained numerics stay exact as VARCHAR text. */
function numberTypmod(col: Column, dialect: string): { p: number; s: number } | null {
  const t = numericTypmod(col, dialect);
  return t !== null && t.precision <= 38 ? { p: t.precision, s: t.scale } : null;
}

const str = (text: string) => JSON.stringify(text);
const varchar = (e: string) => `${e}::VARCHAR`;
const get = <K extends string>(v: Present, kind: K): Extract<Present, { kind: K }> => {
  if (typeof v !== 'object' || v instanceof Uint8Array || v.kind !== kind) throw new RangeError(`expected a ${kind} value`);
  return v as Extract<Present, { kind: K }>;
};
const int = (v: Present): string => {
  if (typeof v !== 'bigint') throw new RangeError('expected an integer');
  return str(v.toString());
};
/** Snowflake FLOAT takes 'NaN', 'inf' and '-inf' as text. */
const float = (v: Present): string => {
  if (typeof v !== 'number') throw new RangeError('expected a float');
  return str(Number.isNaN(v) ? 'NaN' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : floatText(v));
};

/** Snowflake dates and timestamps cover years 1 to 9999 only: BC, beyond 9999 and ±infinity are refused. */
function ymd(days: number): string {
  if (days === DATE_INFINITY || days === DATE_MINUS_INFINITY) throw new RangeError(`date ${days === DATE_INFINITY ? 'infinity' : '-infinity'} has no Snowflake form`);
  const { year, month, day } = civilFromDays(days);
  if (year < 1 || year > 9999) throw new RangeError(`year ${year <= 0 ? `${1 - year} BC` : year} is outside Snowflake's range (1 to 9999)`);
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

function timestamp(micros: number | bigint): string {
  if (micros === Infinity || micros === -Infinity) throw new RangeError(`timestamp ${micros === Infinity ? 'infinity' : '-infinity'} has no Snowflake form`);
  const m = BigInt(micros);
  const perDay = 86_400_000_000n;
  let d = m / perDay;
  if (m % perDay < 0n) d -= 1n;
  return `${ymd(Number(d))} ${timeText(Number(m - d * perDay))}`;
}

/** ISO 8601 duration with a sign per field, e.g. P14M3DT-0.000001S (Snowflake has no interval column type). */
export function intervalText(months: number, days: number, micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const a = Math.abs(micros);
  const secs = `${sign}${Math.floor(a / 1e6)}.${String(a % 1e6).padStart(6, '0')}`;
  return `P${months}M${days}DT${secs}S`;
}

export const SNOWFLAKE_TYPES: Readonly<Record<ValueKind, Mapping | null>> = {
  [ValueKind.UNSPECIFIED]: null,
  [ValueKind.BOOL]: { type: () => 'BOOLEAN', json: (v) => { if (typeof v !== 'boolean') throw new RangeError('expected a boolean'); return String(v); }, load: (e) => `${e}::BOOLEAN` },
  [ValueKind.INT16]: { type: () => 'NUMBER(5,0)', json: int, load: (e) => `${varchar(e)}::NUMBER(5,0)` },
  [ValueKind.INT32]: { type: () => 'NUMBER(10,0)', json: int, load: (e) => `${varchar(e)}::NUMBER(10,0)` },
  [ValueKind.INT64]: { type: () => 'NUMBER(19,0)', json: int, load: (e) => `${varchar(e)}::NUMBER(19,0)` },
  [ValueKind.FLOAT32]: { type: () => 'FLOAT', json: float, load: (e) => `${varchar(e)}::FLOAT` },
  [ValueKind.FLOAT64]: { type: () => 'FLOAT', json: float, load: (e) => `${varchar(e)}::FLOAT` },
  [ValueKind.DECIMAL]: {
    type: (col, dialect) => { const t = numberTypmod(col, dialect); return t === null ? 'VARCHAR' : `NUMBER(${t.p},${t.s})`; },
    json: (v, col, dialect) => {
      const text = get(v, 'decimal').text;
      if (numberTypmod(col, dialect) !== null && !/^[+-]?\d*(\.\d*)?$/.test(text)) throw new RangeError(`numeric ${text} has no NUMBER form in Snowflake`);
      return str(text);
    },
    load: (e, col, dialect) => { const t = numberTypmod(col, dialect); return t === null ? varchar(e) : `${varchar(e)}::NUMBER(${t.p},${t.s})`; },
  },
  [ValueKind.TEXT]: { type: () => 'VARCHAR', json: (v) => { if (typeof v !== 'string') throw new RangeError('expected text'); return str(v); }, load: varchar },
  [ValueKind.BYTES]: {
    type: () => 'BINARY',
    json: (v) => { if (!(v instanceof Uint8Array)) throw new RangeError('expected bytes'); return str(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')); },
    load: (e) => `TO_BINARY(${varchar(e)}, 'HEX')`,
  },
  [ValueKind.UUID]: { type: () => 'VARCHAR(36)', json: (v) => str(get(v, 'uuid').text), load: varchar },
  [ValueKind.DATE]: { type: () => 'DATE', json: (v) => str(ymd(get(v, 'date').days)), load: (e) => `${varchar(e)}::DATE` },
  [ValueKind.TIME]: {
    type: () => 'TIME(6)',
    json: (v) => { const m = get(v, 'time').micros; if (m >= 86_400_000_000) throw new RangeError('time 24:00:00 has no Snowflake form'); return str(timeText(m)); },
    load: (e) => `${varchar(e)}::TIME(6)`,
  },
  [ValueKind.TIMETZ]: {
    type: () => 'VARCHAR',
    json: (v) => { const t = get(v, 'timetz'); const o = Math.abs(t.offsetSeconds); const hh = String(Math.floor(o / 3600)).padStart(2, '0'); const mm = String(Math.floor(o / 60) % 60).padStart(2, '0'); const ss = o % 60 === 0 ? '' : `:${String(o % 60).padStart(2, '0')}`; return str(`${timeText(t.micros)}${t.offsetSeconds < 0 ? '-' : '+'}${hh}:${mm}${ss}`); },
    load: varchar,
  },
  [ValueKind.TIMESTAMP]: { type: () => 'TIMESTAMP_NTZ(6)', json: (v) => str(timestamp(get(v, 'timestamp').micros)), load: (e) => `${varchar(e)}::TIMESTAMP_NTZ(6)` },
  [ValueKind.TIMESTAMPTZ]: { type: () => 'TIMESTAMP_TZ(6)', json: (v) => str(`${timestamp(get(v, 'timestamptz').micros)}+00:00`), load: (e) => `${varchar(e)}::TIMESTAMP_TZ(6)` },
  [ValueKind.INTERVAL]: { type: () => 'VARCHAR', json: (v) => { const i = get(v, 'interval'); return str(intervalText(i.months, i.days, i.micros)); }, load: varchar },
  [ValueKind.JSON]: { type: () => 'VARIANT', json: (v) => str(get(v, 'json').text), load: (e) => `PARSE_JSON(${varchar(e)})` },
  [ValueKind.JSONB]: { type: () => 'VARIANT', json: (v) => str(get(v, 'json').text), load: (e) => `PARSE_JSON(${varchar(e)})` },
  [ValueKind.ENUM]: { type: () => 'VARCHAR', json: (v) => { if (typeof v !== 'string') throw new RangeError('expected text'); return str(v); }, load: varchar },
  [ValueKind.ARRAY]: { type: () => 'ARRAY', json: (v, col, dialect) => str(arrayJson(v, col, dialect)), load: (e) => `PARSE_JSON(${varchar(e)})::ARRAY` },
};

/** A PostgreSQL array as nested JSON arrays (one level per dimension; lower bounds not kept); elements in their JSON form. */
function arrayJson(v: Present, col: Column, dialect: string): string {
  const a = get(v, 'array');
  const el = col.elementKind === ValueKind.ARRAY ? null : SNOWFLAKE_TYPES[col.elementKind];
  if (el === null) throw new RangeError(`array element kind ${ValueKind[col.elementKind]} has no Snowflake mapping`);
  const ec: Column = { ...col, kind: col.elementKind, sourceType: col.sourceType.replace(/(\[\d*\])+$/, ''), arrayDims: 0 };
  if (a.dims.length === 0 || a.dims.some((d) => d === 0)) return '[]';
  let i = 0;
  const build = (dim: number): string => {
    const parts: string[] = [];
    for (let k = 0; k < (a.dims[dim] ?? 0); k++) {
      if (dim + 1 < a.dims.length) parts.push(build(dim + 1));
      else {
        const item = a.items[i++] ?? null;
        if (item === null || item === UNCHANGED) parts.push('null');
        else parts.push(elementJson(item, ec, el, dialect));
      }
    }
    return `[${parts.join(',')}]`;
  };
  return build(0);
}

/** Inside a VARIANT array numbers stay JSON numbers (exact digits) and JSON stays JSON; other elements take their column form. */
function elementJson(item: Present, ec: Column, el: Mapping, dialect: string): string {
  if (typeof item === 'bigint') return item.toString();
  if (typeof item === 'number' && Number.isFinite(item)) return floatText(item) === '-0' ? '-0.0' : floatText(item);
  if (typeof item === 'object' && !(item instanceof Uint8Array) && item.kind === 'decimal' && /^-?\d+(\.\d+)?$/.test(item.text)) return item.text;
  if (typeof item === 'object' && !(item instanceof Uint8Array) && item.kind === 'json') return item.text;
  return el.json(item, ec, dialect);
}

export function mappingOf(col: Column): Mapping {
  const m = SNOWFLAKE_TYPES[col.kind];
  if (m === null) throw new RangeError(`column ${col.name} has value kind ${ValueKind[col.kind]}, which has no Snowflake mapping`);
  return m;
}
