import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRow, RowWriter, type Value } from '../../../proto/tributary/v1/row-codec.js';
import { AgentError } from '../../errors.js';
import { RowConverter, daysFromCivil } from './convert.js';
import { MySqlType, valueKind, type MySqlColumn } from './types.js';

function col(name: string, type: number, unsigned = false, text = false): MySqlColumn {
  return { name, type, unsigned, text, sourceType: '', kind: valueKind('db.t', name, type, unsigned, text) };
}

function convert(columns: MySqlColumn[], row: Record<string, unknown>, zeroDates: 'null' | 'error' = 'null'): readonly Value[] {
  const w = new RowWriter();
  new RowConverter('db.t', columns, [0], zeroDates, () => undefined).writeRow(row, w);
  return decodeRow(w.finish());
}

describe('MySQL value conversion', () => {
  it('keeps 64-bit integers exact: BIGINT UNSIGNED as a decimal, BIGINT beyond 2^53 as bigint', () => {
    const cols = [col('bu', MySqlType.LONGLONG, true), col('bi', MySqlType.LONGLONG), col('iu', MySqlType.LONG, true)];
    const out = convert(cols, { bu: '18446744073709551615', bi: '-9223372036854775808', iu: 4294967295 });
    assert.deepEqual(out, [{ kind: 'decimal', text: '18446744073709551615' }, -9223372036854775808n, 4294967295n]);
  });

  it('converts temporal text exactly, TIME as a signed interval, far dates as bigint microseconds', () => {
    const cols = [col('d', MySqlType.DATE), col('dt', MySqlType.DATETIME2), col('ts', MySqlType.TIMESTAMP2), col('tm', MySqlType.TIME2), col('y', MySqlType.YEAR)];
    const out = convert(cols, { d: '1970-01-02', dt: '9999-12-31 23:59:59.999999', ts: '1970-01-01 00:00:01.5', tm: '-838:59:59.000001', y: 1900 });
    assert.deepEqual(out[0], { kind: 'date', days: 1 });
    assert.deepEqual(out[1], { kind: 'timestamp', micros: BigInt(daysFromCivil(9999, 12, 31)) * 86_400_000_000n + 86_399_999_999n });
    assert.deepEqual(out[2], { kind: 'timestamptz', micros: 1_500_000 });
    assert.deepEqual(out[3], { kind: 'interval', months: 0, days: 0, micros: -3_020_399_000_001 });
    assert.equal(out[4], 0n, 'YEAR 0000 (read as 1900) is 0');
  });

  it('applies the zero-date policy', () => {
    const cols = [col('d', MySqlType.DATE), col('dt', MySqlType.DATETIME2)];
    assert.deepEqual(convert(cols, { d: '0000-00-00', dt: '2020-00-10 00:00:00' }), [null, null]);
    assert.throws(
      () => convert(cols, { d: '0000-00-00', dt: null }, 'error'),
      (e: unknown) => e instanceof AgentError && e.kind === 'source-misconfigured' && /db\.t\.d: zero date "0000-00-00"/.test(e.message),
    );
  });

  it('writes key images in table column order', () => {
    const cols = [col('a', MySqlType.LONG), col('b', MySqlType.VARCHAR, false, true)];
    const w = new RowWriter();
    new RowConverter('db.t', cols, [1, 0], 'null', () => undefined).writeKey({ a: 1, b: 'x' }, w);
    assert.deepEqual(decodeRow(w.finish()), [1n, 'x']);
  });

  it('refuses unsupported column types by name', () => {
    assert.throws(() => valueKind('db.t', 'g', MySqlType.GEOMETRY, false, false), /db\.t\.g: column type 255 \(GEOMETRY\) is not supported/);
  });
});
