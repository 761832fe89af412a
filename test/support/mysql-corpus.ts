/**
 * The MySQL/MariaDB type corpus: one table with a column of every supported
 * type (and generated and invisible columns), and four rows at the edges of
 * each type's range (max, min, all NULL, awkward middles), shared by the
 * end-to-end tests of every sink.
 */
/** The corpus table, `t`, in the source database. */
export const CREATE_T = `CREATE TABLE t (
  id bigint unsigned PRIMARY KEY, ti tinyint, tu tinyint unsigned, b bool, si smallint, su smallint unsigned,
  mi mediumint, mu mediumint unsigned, i int, iu int unsigned, bi bigint, bu bigint unsigned,
  d decimal(65,30), d2 decimal(10,2), f float, db double, bt bit(10),
  c char(5), vc varchar(20), tx text, bn binary(4), vb varbinary(10), bl blob,
  dt date, dtm datetime(6), dt0 datetime, ts timestamp(3) NULL DEFAULT NULL, tm time(6), y year,
  e enum('small','large','😀'), s set('x','y','z'), j json,
  g int GENERATED ALWAYS AS (ti + 1) VIRTUAL, gs int GENERATED ALWAYS AS (ti + 2) STORED, inv int INVISIBLE DEFAULT 7
) CHARACTER SET utf8mb4`;

export const INSERT_COLS = 'id, ti, tu, b, si, su, mi, mu, i, iu, bi, bu, d, d2, f, db, bt, c, vc, tx, bn, vb, bl, dt, dtm, dt0, ts, tm, y, e, s, j';
export const ROW_MAX = `(18446744073709551615, 127, 255, true, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  99999999999999999999999999999999999.999999999999999999999999999999, 12345678.91, 3.4028234e38, 1.7976931348623157e308, b'1111111111',
  'abc', '😀 ü 中文 𝄞', REPEAT('long text ', 500), x'01020304', x'ff00ff', x'000102ff',
  '9999-12-31', '9999-12-31 23:59:59.999999', '2024-02-29 12:34:56', '2038-01-19 03:14:07.999', '838:59:59.000000', 2155, '😀', 'x,y,z', '{"a": [1, 2.5, "s"], "b": {"c": null}, "big": 18446744073709551615}')`;
export const ROW_MIN = `(0, -128, 0, false, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
  -99999999999999999999999999999999999.999999999999999999999999999999, -0.01, -1.17549435e-38, -2.2250738585072014e-308, b'0',
  '', '', '', x'00000000', x'', x'',
  '1000-01-01', '1000-01-01 00:00:00.000000', '1000-01-01 00:00:00', '1970-01-01 00:00:01.000', '-838:59:59.999999', 1901, 'small', '', '[]')`;
export const ROW_NULL = `(1, ${Array.from({ length: 31 }, () => 'NULL').join(', ')})`;
export const ROW_MID = `(2, 1, 2, true, 3, 4, 5, 6, 7, 8, 9007199254740993, 9007199254740993, 0.000000000000000000000000000001, 0.50, 0.1, 0.1, b'0000000001',
  'a', 'it''s "quoted" \\\\ back', 'line1\\nline2\\ttab', x'61', x'00', x'00', '2000-02-29', '2000-01-01 00:00:00.000001', '1999-12-31 23:59:59',
  '2000-06-15 12:00:00.5', '-00:00:00.000001', 1999, 'large', 'y', '"just a string"')`;
