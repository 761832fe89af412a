/**
 * The compact row encoding: the byte format of ChangeEvent.key/before/after.
 *
 *   row    = varint(columnCount) value*
 *   value  = tag payload
 *
 * | tag | meaning            | payload                                                   |
 * | --- | ------------------ | --------------------------------------------------------- |
 * | 0   | NULL               | none                                                      |
 * | 1   | unchanged (TOAST)  | none: the source did not send it; keep the stored value   |
 * | 2/3 | false / true       | none                                                      |
 * | 4   | integer            | zigzag varint, full int64 range                           |
 * | 5   | float              | 8 bytes IEEE-754 little endian (NaN, ±Infinity kept)      |
 * | 6   | decimal            | len + ASCII decimal text, exact ("NaN", "Infinity" too)   |
 * | 7   | text               | len + UTF-8                                               |
 * | 8   | bytes              | len + raw bytes                                           |
 * | 9   | uuid               | 16 bytes                                                  |
 * | 10  | date               | zigzag varint days since 1970-01-01; int32 max/min = ±infinity |
 * | 11  | time               | varint microseconds since midnight                        |
 * | 12  | time with zone     | varint microseconds, zigzag varint UTC offset in seconds (east positive) |
 * | 13  | timestamp          | zigzag varint microseconds since 1970-01-01 (no zone); int64 max/min = ±infinity; PostgreSQL's last days (294276 AD) lie just past int64, so this varint may use 65 bits |
 * | 14  | timestamp with zone| as 13, the instant in UTC                                 |
 * | 15  | interval           | zigzag varint months, days, microseconds                  |
 * | 16  | json               | len + UTF-8 JSON text, as the source stored it            |
 * | 17  | array              | varint ndims, ndims × (varint length, zigzag varint lower bound), then the elements row-major, each a value |
 *
 * Reading is lazy: the hub decodes a row only when a sink needs its values.
 * The writer is in row-writer.ts, the reader in row-reader.ts; both are
 * re-exported here.
 */

export * from './row-values.js';
export { RowWriter, encodeRow, writeValue, uuidToBytes, putUvarint } from './row-writer.js';
export { RowDecodeError, decodeRow } from './row-reader.js';
