import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { PgTypeCatalog } from './types.js';
import type { PgTypeRow } from './types.js';

function base(oid: number, typname: string, typarray: number, category = 'X', typelem = 0): PgTypeRow[] {
  const elem: PgTypeRow = {
    oid, typname, namespace: 'pg_catalog', typtype: 'b', typelem, typbasetype: 0, typtypmod: -1,
    typcategory: category, typdelim: ',', typarray,
  };
  const arr: PgTypeRow = {
    oid: typarray, typname: `_${typname}`, namespace: 'pg_catalog', typtype: 'b', typelem: oid, typbasetype: 0,
    typtypmod: -1, typcategory: 'A', typdelim: ',', typarray: 0,
  };
  return [elem, arr];
}

/** A small hand-made catalog with the real OIDs of PostgreSQL's built-in types. */
const rows: PgTypeRow[] = [
  ...base(16, 'bool', 1000, 'B'),
  ...base(17, 'bytea', 1001, 'U'),
  ...base(18, 'char', 1002, 'Z'),
  ...base(19, 'name', 1003, 'S', 18),
  ...base(20, 'int8', 1016, 'N'),
  ...base(21, 'int2', 1005, 'N'),
  ...base(23, 'int4', 1007, 'N'),
  ...base(25, 'text', 1009, 'S'),
  ...base(114, 'json', 199, 'U'),
  ...base(700, 'float4', 1021, 'N'),
  ...base(701, 'float8', 1022, 'N'),
  ...base(1042, 'bpchar', 1014, 'S'),
  ...base(1043, 'varchar', 1015, 'S'),
  ...base(1082, 'date', 1182, 'D'),
  ...base(1083, 'time', 1183, 'D'),
  ...base(1114, 'timestamp', 1115, 'D'),
  ...base(1184, 'timestamptz', 1185, 'D'),
  ...base(1186, 'interval', 1187, 'T'),
  ...base(1266, 'timetz', 1270, 'D'),
  ...base(1700, 'numeric', 1231, 'N'),
  ...base(2950, 'uuid', 2951, 'U'),
  ...base(3802, 'jsonb', 3807, 'U'),
  ...base(600, 'point', 1017, 'G', 701),
  ...base(869, 'inet', 1041, 'I'),
  ...base(790, 'money', 791, 'N'),
  ...base(142, 'xml', 143, 'U'),
  ...base(3614, 'tsvector', 3643, 'U'),
  ...base(1560, 'bit', 1561, 'V'),
  { oid: 603, typname: 'box', namespace: 'pg_catalog', typtype: 'b', typelem: 600, typbasetype: 0, typtypmod: -1, typcategory: 'G', typdelim: ';', typarray: 1020 },
  { oid: 1020, typname: '_box', namespace: 'pg_catalog', typtype: 'b', typelem: 603, typbasetype: 0, typtypmod: -1, typcategory: 'A', typdelim: ',', typarray: 0 },
  { oid: 22, typname: 'int2vector', namespace: 'pg_catalog', typtype: 'b', typelem: 21, typbasetype: 0, typtypmod: -1, typcategory: 'A', typdelim: ',', typarray: 1006 },
  // User types, with OIDs as text the way some clients return them.
  { oid: '90001', typname: 'mood', namespace: 'public', typtype: 'e', typelem: '0', typbasetype: '0', typtypmod: '-1', typcategory: 'E', typdelim: ',', typarray: '90002' },
  { oid: '90002', typname: '_mood', namespace: 'public', typtype: 'b', typelem: '90001', typbasetype: '0', typtypmod: '-1', typcategory: 'A', typdelim: ',', typarray: '0' },
  { oid: 90003, typname: 'price', namespace: 'public', typtype: 'd', typelem: 0, typbasetype: 1700, typtypmod: ((12 << 16) | 2) + 4, typcategory: 'N', typdelim: ',', typarray: 90004 },
  { oid: 90004, typname: '_price', namespace: 'public', typtype: 'b', typelem: 90003, typbasetype: 0, typtypmod: -1, typcategory: 'A', typdelim: ',', typarray: 0 },
  { oid: 90005, typname: 'positive_price', namespace: 'public', typtype: 'd', typelem: 0, typbasetype: 90003, typtypmod: -1, typcategory: 'N', typdelim: ',', typarray: 0 },
  { oid: 90006, typname: 'int_list', namespace: 'public', typtype: 'd', typelem: 0, typbasetype: 1007, typtypmod: -1, typcategory: 'A', typdelim: ',', typarray: 0 },
  { oid: 90007, typname: 'Status Kind', namespace: 'sales', typtype: 'e', typelem: 0, typbasetype: 0, typtypmod: -1, typcategory: 'E', typdelim: ',', typarray: 0 },
  { oid: 90008, typname: 'int4range', namespace: 'pg_catalog', typtype: 'r', typelem: 0, typbasetype: 0, typtypmod: -1, typcategory: 'R', typdelim: ',', typarray: 0 },
  { oid: 90009, typname: 'loop_a', namespace: 'public', typtype: 'd', typelem: 0, typbasetype: 90010, typtypmod: -1, typcategory: 'N', typdelim: ',', typarray: 0 },
  { oid: 90010, typname: 'loop_b', namespace: 'public', typtype: 'd', typelem: 0, typbasetype: 90009, typtypmod: -1, typcategory: 'N', typdelim: ',', typarray: 0 },
];

const catalog = new PgTypeCatalog(rows);

function scalar(oid: number, typmod = -1): [ValueKind, string] {
  const r = catalog.resolve(oid, typmod);
  assert.ok(r, `oid ${oid} resolves`);
  assert.equal(r.arrayDims, 0);
  assert.equal(r.elementKind, ValueKind.UNSPECIFIED);
  assert.equal(r.elementTypeOid, 0);
  return [r.kind, r.sourceType];
}

describe('PgTypeCatalog.resolve', () => {
  it('maps the built-in types to kinds and format_type names', () => {
    const cases: Array<[number, number, ValueKind, string]> = [
      [16, -1, ValueKind.BOOL, 'boolean'],
      [17, -1, ValueKind.BYTES, 'bytea'],
      [18, -1, ValueKind.TEXT, '"char"'],
      [19, -1, ValueKind.TEXT, 'name'],
      [20, -1, ValueKind.INT64, 'bigint'],
      [21, -1, ValueKind.INT16, 'smallint'],
      [23, -1, ValueKind.INT32, 'integer'],
      [25, -1, ValueKind.TEXT, 'text'],
      [114, -1, ValueKind.JSON, 'json'],
      [3802, -1, ValueKind.JSONB, 'jsonb'],
      [700, -1, ValueKind.FLOAT32, 'real'],
      [701, -1, ValueKind.FLOAT64, 'double precision'],
      [1042, 7, ValueKind.TEXT, 'character(3)'],
      [1042, -1, ValueKind.TEXT, 'bpchar'],
      [1043, 44, ValueKind.TEXT, 'character varying(40)'],
      [1043, -1, ValueKind.TEXT, 'character varying'],
      [1082, -1, ValueKind.DATE, 'date'],
      [1083, 3, ValueKind.TIME, 'time(3) without time zone'],
      [1083, -1, ValueKind.TIME, 'time without time zone'],
      [1266, -1, ValueKind.TIMETZ, 'time with time zone'],
      [1266, 0, ValueKind.TIMETZ, 'time(0) with time zone'],
      [1114, 6, ValueKind.TIMESTAMP, 'timestamp(6) without time zone'],
      [1114, -1, ValueKind.TIMESTAMP, 'timestamp without time zone'],
      [1184, -1, ValueKind.TIMESTAMPTZ, 'timestamp with time zone'],
      [1186, -1, ValueKind.INTERVAL, 'interval'],
      [1186, (0x7fff << 16) | 0, ValueKind.INTERVAL, 'interval(0)'],
      [1186, (6 << 16) | 0xffff, ValueKind.INTERVAL, 'interval year to month'],
      [1186, (((1 << 12) | (1 << 11) | (1 << 10) | (1 << 3)) << 16) | 3, ValueKind.INTERVAL, 'interval day to second(3)'],
      [1700, ((12 << 16) | 2) + 4, ValueKind.DECIMAL, 'numeric(12,2)'],
      [1700, ((5 << 16) | 2045) + 4, ValueKind.DECIMAL, 'numeric(5,-3)'],
      [1700, -1, ValueKind.DECIMAL, 'numeric'],
      [2950, -1, ValueKind.UUID, 'uuid'],
    ];
    for (const [oid, mod, kind, name] of cases) {
      assert.deepEqual(scalar(oid, mod), [kind, name], `oid ${oid} typmod ${mod}`);
    }
  });

  it('carries unknown types as text under their own name', () => {
    for (const [oid, name] of [[600, 'point'], [869, 'inet'], [790, 'money'], [142, 'xml'], [3614, 'tsvector'], [90008, 'int4range']] as const) {
      assert.deepEqual(scalar(oid), [ValueKind.TEXT, name]);
    }
    assert.deepEqual(scalar(1560, 3), [ValueKind.TEXT, 'bit(3)']);
  });

  it('maps enums to ENUM with the enum name, qualified and quoted outside public', () => {
    assert.deepEqual(scalar(90001), [ValueKind.ENUM, 'mood']);
    assert.deepEqual(scalar(90007), [ValueKind.ENUM, 'sales."Status Kind"']);
  });

  it('resolves domains to their base type, keeping the domain modifier', () => {
    assert.deepEqual(scalar(90003), [ValueKind.DECIMAL, 'numeric(12,2)']);
    assert.deepEqual(scalar(90005), [ValueKind.DECIMAL, 'numeric(12,2)'], 'domain over domain');
    const list = catalog.resolve(90006, -1);
    assert.equal(list?.kind, ValueKind.ARRAY, 'domain over an array');
    assert.equal(list?.sourceType, 'integer[]');
  });

  it('resolves arrays with element kind, element OID and modifier', () => {
    assert.deepEqual(catalog.resolve(1007, -1), {
      kind: ValueKind.ARRAY, elementKind: ValueKind.INT32, sourceType: 'integer[]', arrayDims: 1, elementTypeOid: 23, delimiter: ',',
    });
    assert.equal(catalog.resolve(1009, -1)?.sourceType, 'text[]');
    assert.equal(catalog.resolve(1015, 44)?.sourceType, 'character varying(40)[]');
    assert.equal(catalog.resolve(1231, ((10 << 16) | 4) + 4)?.sourceType, 'numeric(10,4)[]');
    assert.equal(catalog.resolve(1185, -1)?.elementKind, ValueKind.TIMESTAMPTZ);
    const moods = catalog.resolve(90002, -1);
    assert.equal(moods?.elementKind, ValueKind.ENUM);
    assert.equal(moods?.sourceType, 'mood[]');
    const prices = catalog.resolve(90004, -1);
    assert.equal(prices?.elementKind, ValueKind.DECIMAL, 'array of a domain');
    assert.equal(prices?.elementTypeOid, 1700);
    assert.equal(prices?.sourceType, 'numeric(12,2)[]');
    const inets = catalog.resolve(1041, -1);
    assert.equal(inets?.elementKind, ValueKind.TEXT, 'array of an unknown type');
    assert.equal(inets?.sourceType, 'inet[]');
  });

  it('takes the delimiter from the element type', () => {
    assert.equal(catalog.resolve(1020, -1)?.delimiter, ';');
  });

  it('does not treat int2vector as an array', () => {
    assert.deepEqual(scalar(22), [ValueKind.TEXT, 'int2vector']);
  });

  it('returns undefined for OIDs it does not know and for domain cycles', () => {
    assert.equal(catalog.resolve(123_456, -1), undefined);
    assert.equal(catalog.has(123_456), false);
    assert.equal(catalog.has(23), true);
    assert.equal(catalog.resolve(90009, -1), undefined);
  });
});
