/**
 * The DuckDB type mapping, in one table: per source value kind, the
 * destination column type and the conversion of a decoded value into the
 * DuckDB value the appender writes. Values travel typed end to end (no text
 * round trip), so every value DuckDB can hold lands exactly; the few it cannot
 * hold are refused with a RangeError naming the value (see README).
 */
import {
  BIGINT, BLOB, BOOLEAN, DATE, DECIMAL, DOUBLE, FLOAT, INTEGER, INTERVAL, LIST, DuckDBVarCharType, SMALLINT, TIME, TIMESTAMP, TIMESTAMPTZ, TIMETZ, UUID, VARCHAR,
  DuckDBBlobValue, DuckDBDateValue, DuckDBDecimalValue, DuckDBIntervalValue, DuckDBListValue, DuckDBTimeTZValue, DuckDBTimeValue, DuckDBTimestampTZValue,
  DuckDBTimestampValue, DuckDBUUIDValue, type DuckDBType, type DuckDBValue,
} from '@duckdb/node-api';
import { ValueKind, type Column } from '../../../proto/gen/tributary/v1/change_pb.js';
import { DATE_INFINITY, DATE_MINUS_INFINITY, UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';
import { numericTypmod } from '../merge/numeric-typmod.js';

/** `dialect` is the source's (TableSchema.source_dialect), which the column's source type is written in. */
type Convert = (v: Exclude<Value, null | typeof UNCHANGED>, col: Column, dialect: string) => DuckDBValue;

interface Mapping {
  readonly type: (col: Column, dialect: string) => DuckDBType;
  readonly convert: Convert;
}

/** DuckDB's DECIMAL holds at most 38 digits; wider or unconstrained numerics stay exact as VARCHAR text. */
const MAX_DECIMAL_WIDTH = 38;
/** DuckDB's JSON is VARCHAR under an alias; the alias is what CREATE TABLE names. */
const JSON_TYPE = DuckDBVarCharType.create('JSON');

function decimalTypmod(col: Column, dialect: string): { width: number; scale: number } | null {
  const t = numericTypmod(col, dialect);
  return t !== null && t.precision <= MAX_DECIMAL_WIDTH ? { width: t.precision, scale: t.scale } : null;
}

function expect<K extends string>(v: unknown, kind: K): asserts v is { kind: K } {
  if (typeof v !== 'object' || v === null || (v as { kind?: unknown }).kind !== kind) throw new RangeError(`expected a ${kind} value, got ${describe(v)}`);
}

function describe(v: unknown): string {
  return typeof v === 'object' && v !== null && 'kind' in v ? String((v as { kind: unknown }).kind) : typeof v;
}

const int = (v: Value): number => {
  if (typeof v !== 'bigint') throw new RangeError(`expected an integer, got ${describe(v)}`);
  return Number(v);
};
const float = (v: Value): number => {
  if (typeof v !== 'number') throw new RangeError(`expected a float, got ${describe(v)}`);
  return v;
};
const text = (v: Value): string => {
  if (typeof v !== 'string') throw new RangeError(`expected text, got ${describe(v)}`);
  return v;
};

/** Exact decimal text -> DuckDB's scaled integer; NaN/Infinity and excess digits are refused, never rounded. */
function scaledDecimal(textValue: string, width: number, scale: number): DuckDBDecimalValue {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(textValue);
  if (m === null) throw new RangeError(`numeric ${textValue} has no DECIMAL(${width},${scale}) form in DuckDB`);
  const frac = (m[3] ?? '').replace(/0+$/, '');
  if (frac.length > scale) throw new RangeError(`numeric ${textValue} has more than ${scale} decimal places`);
  const digits = `${m[2] ?? ''}${frac.padEnd(scale, '0')}`.replace(/^0+(?=\d)/, '') || '0';
  if (digits.length > width) throw new RangeError(`numeric ${textValue} does not fit DECIMAL(${width},${scale})`);
  return new DuckDBDecimalValue((m[1] === '-' ? -1n : 1n) * BigInt(digits), width, scale);
}

function timestampMicros(v: Value, kind: 'timestamp' | 'timestamptz'): bigint | 'inf' | '-inf' {
  expect(v, kind);
  const micros = (v as { micros: number | bigint }).micros;
  if (micros === Infinity) return 'inf';
  if (micros === -Infinity) return '-inf';
  const m = BigInt(micros);
  // DuckDB's timestamps end in 294247 AD; PostgreSQL's run to 294276 AD.
  if (m >= DuckDBTimestampValue.Max.micros || m <= DuckDBTimestampValue.Min.micros) throw new RangeError(`${kind} ${m} µs lies outside DuckDB's timestamp range`);
  return m;
}

export const DUCKDB_TYPES: Readonly<Record<ValueKind, Mapping | null>> = {
  [ValueKind.UNSPECIFIED]: null,
  [ValueKind.BOOL]: { type: () => BOOLEAN, convert: (v) => { if (typeof v !== 'boolean') throw new RangeError(`expected a boolean, got ${describe(v)}`); return v; } },
  [ValueKind.INT16]: { type: () => SMALLINT, convert: int },
  [ValueKind.INT32]: { type: () => INTEGER, convert: int },
  [ValueKind.INT64]: { type: () => BIGINT, convert: (v) => { if (typeof v !== 'bigint') throw new RangeError(`expected an integer, got ${describe(v)}`); return v; } },
  [ValueKind.FLOAT32]: { type: () => FLOAT, convert: float },
  [ValueKind.FLOAT64]: { type: () => DOUBLE, convert: float },
  [ValueKind.DECIMAL]: {
    type: (col, dialect) => { const t = decimalTypmod(col, dialect); return t === null ? VARCHAR : DECIMAL(t.width, t.scale); },
    convert: (v, col, dialect) => { expect(v, 'decimal'); const t = decimalTypmod(col, dialect); const s = (v as { text: string }).text; return t === null ? s : scaledDecimal(s, t.width, t.scale); },
  },
  [ValueKind.TEXT]: { type: () => VARCHAR, convert: text },
  [ValueKind.BYTES]: { type: () => BLOB, convert: (v) => { if (!(v instanceof Uint8Array)) throw new RangeError(`expected bytes, got ${describe(v)}`); return new DuckDBBlobValue(v); } },
  [ValueKind.UUID]: { type: () => UUID, convert: (v) => { expect(v, 'uuid'); return DuckDBUUIDValue.fromUint128(BigInt(`0x${(v as { text: string }).text.replace(/-/g, '')}`)); } },
  [ValueKind.DATE]: {
    type: () => DATE,
    convert: (v) => { expect(v, 'date'); const d = (v as { days: number }).days; return d === DATE_INFINITY ? DuckDBDateValue.PosInf : d === DATE_MINUS_INFINITY ? DuckDBDateValue.NegInf : new DuckDBDateValue(d); },
  },
  [ValueKind.TIME]: { type: () => TIME, convert: (v) => { expect(v, 'time'); return new DuckDBTimeValue(BigInt((v as { micros: number }).micros)); } },
  [ValueKind.TIMETZ]: {
    type: () => TIMETZ,
    convert: (v) => { expect(v, 'timetz'); const t = v as { micros: number; offsetSeconds: number }; return DuckDBTimeTZValue.fromMicrosAndOffset(BigInt(t.micros), t.offsetSeconds); },
  },
  [ValueKind.TIMESTAMP]: {
    type: () => TIMESTAMP,
    convert: (v) => { const m = timestampMicros(v, 'timestamp'); return m === 'inf' ? DuckDBTimestampValue.PosInf : m === '-inf' ? DuckDBTimestampValue.NegInf : new DuckDBTimestampValue(m); },
  },
  [ValueKind.TIMESTAMPTZ]: {
    type: () => TIMESTAMPTZ,
    convert: (v) => { const m = timestampMicros(v, 'timestamptz'); return m === 'inf' ? DuckDBTimestampTZValue.PosInf : m === '-inf' ? DuckDBTimestampTZValue.NegInf : new DuckDBTimestampTZValue(m); },
  },
  [ValueKind.INTERVAL]: {
    type: () => INTERVAL,
    convert: (v) => { expect(v, 'interval'); const i = v as { months: number; days: number; micros: number }; return new DuckDBIntervalValue(i.months, i.days, BigInt(i.micros)); },
  },
  [ValueKind.JSON]: { type: () => JSON_TYPE, convert: (v) => { expect(v, 'json'); return (v as { text: string }).text; } },
  [ValueKind.JSONB]: { type: () => JSON_TYPE, convert: (v) => { expect(v, 'json'); return (v as { text: string }).text; } },
  [ValueKind.ENUM]: { type: () => VARCHAR, convert: text },
  [ValueKind.ARRAY]: {
    type: (col, dialect) => nestList(elementMapping(col).type(elementColumn(col), dialect), Math.max(1, col.arrayDims)),
    convert: (v, col, dialect) => arrayValue(v, col, dialect),
  },
};

function nestList(t: DuckDBType, dims: number): DuckDBType {
  return dims <= 0 ? t : nestList(LIST(t), dims - 1);
}

function elementColumn(col: Column): Column {
  return { ...col, kind: col.elementKind, sourceType: col.sourceType.replace(/(\[\d*\])+$/, ''), arrayDims: 0 };
}

function elementMapping(col: Column): Mapping {
  const m = col.elementKind === ValueKind.ARRAY ? null : DUCKDB_TYPES[col.elementKind];
  if (m === null) throw new RangeError(`array column ${col.name} has element kind ${ValueKind[col.elementKind]}, which has no DuckDB mapping`);
  return m;
}

/** A PostgreSQL array as nested DuckDB lists, one level per declared dimension; lower bounds are not kept (README). */
function arrayValue(v: Value, col: Column, dialect: string): DuckDBValue {
  expect(v, 'array');
  const a = v as { dims: readonly number[]; items: readonly Value[] };
  const declared = Math.max(1, col.arrayDims);
  const empty = a.dims.length === 0 || a.dims.some((d) => d === 0);
  if (!empty && a.dims.length !== declared) {
    throw new RangeError(`array column ${col.name} is declared with ${declared} dimension(s) but a value has ${a.dims.length}`);
  }
  const el = elementMapping(col);
  const ec = elementColumn(col);
  if (empty) return new DuckDBListValue([]);
  let i = 0;
  const build = (dim: number): DuckDBListValue => {
    const out: DuckDBValue[] = [];
    for (let k = 0; k < (a.dims[dim] ?? 0); k++) {
      if (dim + 1 < a.dims.length) out.push(build(dim + 1));
      else {
        const item = a.items[i++] ?? null;
        out.push(item === null ? null : el.convert(item as Exclude<Value, null | typeof UNCHANGED>, ec, dialect));
      }
    }
    return new DuckDBListValue(out);
  };
  return build(0);
}

export function duckType(col: Column, dialect: string): DuckDBType {
  const m = DUCKDB_TYPES[col.kind];
  if (m === null) throw new RangeError(`column ${col.name} has value kind ${ValueKind[col.kind]}, which has no DuckDB mapping`);
  return m.type(col, dialect);
}

/** The DuckDB value for a column's value; null stays NULL. UNCHANGED must be handled by the caller. */
export function toDuck(v: Value, col: Column, dialect: string): DuckDBValue {
  if (v === null) return null;
  if (v === UNCHANGED) throw new RangeError('an unchanged (TOAST) value has no DuckDB form');
  const m = DUCKDB_TYPES[col.kind];
  if (m === null) throw new RangeError(`column ${col.name} has value kind ${ValueKind[col.kind]}, which has no DuckDB mapping`);
  return m.convert(v, col, dialect);
}
