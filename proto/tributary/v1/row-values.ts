/** The values and tags of the compact row encoding (format: row-codec.ts). */
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
/** int64 max/min: infinite timestamps, as PostgreSQL stores them. */
export const TS_INFINITY = 9223372036854775807n;
export const TS_MINUS_INFINITY = -9223372036854775808n;
