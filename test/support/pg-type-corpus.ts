/** Every common PostgreSQL type at its extremes and NULL: one table, four rows (pipeline-types, snapshot-pg). */
export const COLUMNS = [
  'id', 'c_int2', 'c_int4', 'c_int8', 'c_num', 'c_num_free', 'c_f4', 'c_f8', 'c_bool', 'c_text', 'c_vc', 'c_char', 'c_bytea', 'c_uuid',
  'c_date', 'c_time', 'c_timetz', 'c_ts', 'c_tstz', 'c_iv', 'c_json', 'c_jsonb', 'c_int_arr', 'c_text_arr', 'c_mood', 'c_mood_arr', 'c_2d',
];

export const DDL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE all_types (
  id bigint PRIMARY KEY, c_int2 smallint, c_int4 integer, c_int8 bigint, c_num numeric(30,10), c_num_free numeric,
  c_f4 real, c_f8 double precision, c_bool boolean, c_text text, c_vc varchar(20), c_char char(5), c_bytea bytea, c_uuid uuid,
  c_date date, c_time time, c_timetz timetz, c_ts timestamp, c_tstz timestamptz, c_iv interval, c_json json, c_jsonb jsonb,
  c_int_arr int[], c_text_arr text[], c_mood mood, c_mood_arr mood[], c_2d int[][]
);`;

export const ROWS = `
INSERT INTO all_types VALUES
 (1, 32767, 2147483647, 9223372036854775807, 12345678901234567890.0123456789, 'NaN', 3.14, 2.718281828459045, true,
  'plain', 'varchar', 'ab', '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29', '23:59:59.999999', '12:34:56.789+05:30',
  '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456+02', '1 year 2 mons 3 days 04:05:06.789', '{"b": 1, "a": [1, 2]}', '{"b": 1, "a": [1, 2]}',
  '{1,NULL,3}', '{"a,b","c\\"d","e\\\\f",NULL,""}', 'happy', '{sad,happy}', '{{1,2},{3,4}}'),
 (2, -32768, -2147483648, -9223372036854775808, -0.0000000001, '1e-30', 'NaN', '-Infinity', false,
  'emoji 🦀 and ünïcödé', '', '     ', '\\x', '00000000-0000-0000-0000-000000000000', '0044-03-15 BC', '00:00:00', '00:00:00-03:00',
  '0001-01-01 00:00:00 BC', '-infinity', '-3 days -00:00:00.000001', '[]', 'null',
  '{}', '{}', 'sad', '{}', '{{NULL,2},{3,NULL}}'),
 (3, 0, 0, 0, 0, 'Infinity', 'Infinity', 1e308, NULL,
  NULL, NULL, NULL, NULL, NULL, 'infinity', '24:00:00', '24:00:00+14', '294276-12-31 23:59:59.999999', 'infinity', '0', '"text"', '{"nested": {"deep": [true, false, null]}}',
  NULL, '{"x"}', NULL, NULL, NULL),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`;
