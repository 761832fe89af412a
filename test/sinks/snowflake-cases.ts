/** The type corpus for Snowflake: [column, value, value read back as text on the emulator (DuckDB), Snowflake column type]. */
import { ValueKind, type Column } from '../../proto/gen/tributary/v1/change_pb.js';
import type { Value } from '../../proto/tributary/v1/row-codec.js';
import { arrCol, col, items } from './changes.js';

export const SNOWFLAKE_CASES: [Column, Value, string | null, string][] = [
  [col('c_int2', ValueKind.INT16, 'smallint'), -32768n, '-32768', 'NUMBER(5,0)'],
  [col('c_int4', ValueKind.INT32, 'integer'), 2147483647n, '2147483647', 'NUMBER(10,0)'],
  [col('c_int8', ValueKind.INT64, 'bigint'), -9223372036854775808n, '-9223372036854775808', 'NUMBER(19,0)'],
  [col('c_numeric', ValueKind.DECIMAL, 'numeric(12,2)'), { kind: 'decimal', text: '1234567890.12' }, '1234567890.12', 'NUMBER(12,2)'],
  [col('c_numeric_free', ValueKind.DECIMAL, 'numeric'), { kind: 'decimal', text: '12345678901234567890123456789012345678901234.5' }, '12345678901234567890123456789012345678901234.5', 'VARCHAR'],
  [col('c_numeric_nan', ValueKind.DECIMAL, 'numeric'), { kind: 'decimal', text: 'NaN' }, 'NaN', 'VARCHAR'],
  [col('c_float4', ValueKind.FLOAT32, 'real'), Math.fround(0.1), '0.10000000149011612', 'FLOAT'],
  [col('c_float8', ValueKind.FLOAT64, 'double precision'), 0.1 + 0.2, '0.30000000000000004', 'FLOAT'],
  [col('c_float8_nan', ValueKind.FLOAT64, 'double precision'), NaN, 'nan', 'FLOAT'],
  [col('c_float8_ninf', ValueKind.FLOAT64, 'double precision'), -Infinity, '-inf', 'FLOAT'],
  [col('c_float8_negzero', ValueKind.FLOAT64, 'double precision'), -0, '-0.0', 'FLOAT'],
  [col('c_bool', ValueKind.BOOL, 'boolean'), true, 'true', 'BOOLEAN'],
  [col('c_text', ValueKind.TEXT, 'text'), 'héllo "w" \\ ; 𝄞 \' \n', 'héllo "w" \\ ; 𝄞 \' \n', 'VARCHAR'],
  [col('c_bytea', ValueKind.BYTES, 'bytea'), new Uint8Array([0, 1, 0x5c, 0xff]), '\\x00\\x01\\x5C\\xFF', 'BINARY'],
  [col('c_uuid', ValueKind.UUID, 'uuid'), { kind: 'uuid', text: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'VARCHAR(36)'],
  [col('c_date', ValueKind.DATE, 'date'), { kind: 'date', days: 19_723 }, '2024-01-01', 'DATE'],
  [col('c_date_first', ValueKind.DATE, 'date'), { kind: 'date', days: -719_162 }, '0001-01-01', 'DATE'],
  [col('c_time', ValueKind.TIME, 'time without time zone'), { kind: 'time', micros: 45_296_000_007 }, '12:34:56.000007', 'TIME(6)'],
  [col('c_timetz', ValueKind.TIMETZ, 'time with time zone'), { kind: 'timetz', micros: 45_296_123_456, offsetSeconds: 19_800 }, '12:34:56.123456+05:30', 'VARCHAR'],
  [col('c_ts', ValueKind.TIMESTAMP, 'timestamp without time zone'), { kind: 'timestamp', micros: 1_700_000_000_123_456 }, '2023-11-14 22:13:20.123456', 'TIMESTAMP_NTZ(6)'],
  [col('c_ts_pre', ValueKind.TIMESTAMP, 'timestamp without time zone'), { kind: 'timestamp', micros: -1 }, '1969-12-31 23:59:59.999999', 'TIMESTAMP_NTZ(6)'],
  [col('c_tstz', ValueKind.TIMESTAMPTZ, 'timestamp with time zone'), { kind: 'timestamptz', micros: 1_700_000_000_123_456 }, '2023-11-14 22:13:20.123456+00', 'TIMESTAMP_TZ(6)'],
  [col('c_interval', ValueKind.INTERVAL, 'interval'), { kind: 'interval', months: 14, days: 3, micros: -1 }, 'P14M3DT-0.000001S', 'VARCHAR'],
  [col('c_json', ValueKind.JSON, 'json'), { kind: 'json', text: '{"b": 1,  "a": [1,2]}' }, '{"b":1,"a":[1,2]}', 'VARIANT'],
  [col('c_jsonb', ValueKind.JSONB, 'jsonb'), { kind: 'json', text: '{"a": [1, "x\\"y"], "b": 1}' }, '{"a":[1,"x\\"y"],"b":1}', 'VARIANT'],
  [arrCol('c_int_arr', ValueKind.INT32, 'integer[]'), items([3], [1n, null, 3n]), '[1,null,3]', 'ARRAY'],
  [arrCol('c_text_arr', ValueKind.TEXT, 'text[]'), items([4], ['a b', null, 'q"\\', '']), '["a b",null,"q\\"\\\\",""]', 'ARRAY'],
  [arrCol('c_int_2d', ValueKind.INT32, 'integer[]'), items([2, 2], [1n, 2n, 3n, null]), '[[1,2],[3,null]]', 'ARRAY'],
  [arrCol('c_num_arr', ValueKind.DECIMAL, 'numeric(5,1)[]'), items([2], [{ kind: 'decimal', text: '1.5' }, { kind: 'decimal', text: '-2.0' }]), '[1.5,-2.0]', 'ARRAY'],
  [col('c_enum', ValueKind.ENUM, 'mood'), 'happy', 'happy', 'VARCHAR'],
  [col('c_null', ValueKind.TEXT, 'text'), null, null, 'VARCHAR'],
];
