import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AgentError } from '../../errors.js';
import { ChunkReader, escapeString } from './snapshot-chunk.js';
import { binlogColumnType, type SnapshotTable } from './snapshot-shape.js';
import { shapeFingerprint } from './table-map.js';
import { MySqlType, valueKind, type MySqlColumn } from './types.js';

function col(name: string, type: number, unsigned = false, text = false): MySqlColumn {
  return { name, type, unsigned, text, sourceType: '', kind: valueKind('db.t', name, type, unsigned, text) };
}

function table(columns: MySqlColumn[], keyOrder: number[]): SnapshotTable {
  return { db: 'shop', table: 'o`rders', tableKey: 'shop.o`rders', columns, keyOrder, fingerprint: shapeFingerprint(columns, keyOrder), rowsEstimate: 0 };
}

describe('MySQL snapshot chunk SQL', () => {
  const cols = [col('id', MySqlType.LONGLONG, true), col('k', MySqlType.VARCHAR, false, true), col('b', MySqlType.VARCHAR), col('f', MySqlType.FLOAT)];

  it('reads FLOAT as DOUBLE, quotes identifiers, and pages by the whole key in declared order', () => {
    const r = new ChunkReader(table(cols, [1, 0]));
    assert.equal(r.sql(null, 100), 'SELECT `id`, `k`, `b`, CAST(`f` AS DOUBLE) FROM `shop`.`o``rders` ORDER BY `k`, `id` LIMIT 100');
    assert.equal(
      r.sql(["it's\\", '18446744073709551615'], 5),
      "SELECT `id`, `k`, `b`, CAST(`f` AS DOUBLE) FROM `shop`.`o``rders` WHERE (`k` > 'it\\'s\\\\') OR (`k` = 'it\\'s\\\\' AND `id` > 18446744073709551615) ORDER BY `k`, `id` LIMIT 5",
    );
  });

  it('inlines binary keys as hex and refuses a stored key that is not what the column holds', () => {
    const r = new ChunkReader(table(cols, [2, 0]));
    assert.match(r.sql(['00ff', '7'], 1), /WHERE \(`b` > X'00ff'\) OR \(`b` = X'00ff' AND `id` > 7\)/);
    assert.throws(() => r.sql(['zz', '7'], 1), (e: unknown) => e instanceof AgentError && e.kind === 'spool-corrupt' && /b: malformed/.test(e.message));
    assert.throws(() => r.sql(['00', '7; DROP TABLE x'], 1), (e: unknown) => e instanceof AgentError && /id: key value/.test(e.message));
    assert.throws(() => r.sql(['00'], 1), (e: unknown) => e instanceof AgentError && /2 key values|1 key values/.test(e.message));
  });

  it('keeps the cursor exact: 64-bit integers as text, bytes as hex', () => {
    const r = new ChunkReader(table(cols, [0, 2]));
    assert.deepEqual(r.cursorOf(['18446744073709551615', 'x', Buffer.from([0, 255]), 1.5]), ['18446744073709551615', '00ff']);
  });

  it('refuses ENUM/SET keys and tables without a key', () => {
    assert.throws(() => new ChunkReader(table([col('e', MySqlType.ENUM)], [0])), /ENUM or SET primary key/);
    assert.throws(() => new ChunkReader(table(cols, [])), /no primary key/);
  });

  it('escapes every character a backslash-escaping session needs', () => {
    assert.equal(escapeString('a\'b"c\\d\n\r\t\0\b\x1a'), "'a\\'b\\\"c\\\\d\\n\\r\\t\\0\\b\\Z'");
  });
});

describe('INFORMATION_SCHEMA column types in binlog terms', () => {
  it('drops display widths and float precision, keeps the rest', () => {
    assert.equal(binlogColumnType('int', 'int(11)', true), 'int');
    assert.equal(binlogColumnType('bigint', 'bigint(20) unsigned', true), 'bigint unsigned');
    assert.equal(binlogColumnType('tinyint', 'tinyint(3) unsigned zerofill', true), 'tinyint unsigned');
    assert.equal(binlogColumnType('year', 'year(4)', true), 'year');
    assert.equal(binlogColumnType('float', 'float(7,3)', false), 'float');
    assert.equal(binlogColumnType('decimal', 'decimal(65,30)', true), 'decimal(65,30)');
    assert.equal(binlogColumnType('varchar', 'varchar(20)', true), 'varchar(20)');
    assert.equal(binlogColumnType('datetime', 'datetime(6)', true), 'datetime(6)');
    assert.equal(binlogColumnType('json', 'longtext', true), 'longtext');
    assert.equal(binlogColumnType('json', 'json', false), 'json');
  });
});
