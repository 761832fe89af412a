/**
 * Snapshot chunks read in PostgreSQL's binary COPY format convert to exactly
 * the bytes the text format gives (which the type corpus in snapshot-pg
 * checks against the stream): every binary-read type at its extremes, text
 * with every escape COPY's text format uses, domains, enums, arrays and
 * numerics (read as `::text`), and keyset pagination over composite keys of
 * binary-read types. A table with a type that has its own cast to text is
 * read as text. Real PostgreSQL, the agent's ChunkReader in both modes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { ChunkReader, type RawChunk } from '../agent/sources/postgres/chunk-reader.js';
import type { KeyedTable } from '../agent/snapshot/snapshot-source.js';
import { startPostgres, type PgInstance } from './support/postgres.js';
import { DDL, ROWS } from './support/pg-type-corpus.js';

let pgi: PgInstance;
let admin: pg.Client;
let binary: ChunkReader;
let text: ChunkReader;

before(async () => {
  pgi = await startPostgres();
  admin = new pg.Client({ connectionString: pgi.connectionString() });
  await admin.connect();
  await admin.query(DDL);
  await admin.query(ROWS);
  await admin.query('CREATE DOMAIN positive AS integer CHECK (VALUE > 0)');
  await admin.query(`CREATE TABLE natives (
    ts timestamptz, name text, i2 smallint, i4 integer, i8 bigint, f8 double precision, b boolean, t text, vc varchar(10), ch char(4),
    by bytea, u uuid, d date, tm time, tsn timestamp, j json, jb jsonb, dom positive, n numeric, PRIMARY KEY (ts, name))`);
  await admin.query(`INSERT INTO natives VALUES
    ('infinity', 'a', 32767, 2147483647, 9223372036854775807, 'NaN', true, E'tab\\there\\nnew\\\\slash\\rcr', 'ten chars!', 'ab', '\\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'infinity', '24:00:00', 'infinity', '{"a":1}', '{"a": [1, "x"]}', 1, 1.5),
    ('-infinity', 'b', -32768, -2147483648, -9223372036854775808, '-Infinity', false, '', '', '    ', '\\x', '00000000-0000-0000-0000-000000000000', '-infinity', '00:00:00', '-infinity', '[]', 'null', 2, 'NaN'),
    ('4713-01-01 00:00:00+00 BC', 'c', 0, 0, 4503599627370497, '-0', NULL, 'üñï 🦀 \\N', NULL, NULL, NULL, NULL, '4713-01-01 BC', '12:34:56.789012', '4713-01-01 00:00:00 BC', '"s"', '"s"', NULL, '-0.000001'),
    ('294276-12-31 23:59:59.999999+00', 'd', NULL, NULL, -4503599627370497, 1e308, true, 'x', 'y', 'z', '\\xdeadbeef', NULL, '5874897-12-31', NULL, '294276-12-31 23:59:59.999999', NULL, '{}', 3, 1e-20),
    ('2024-02-29 12:00:00.000001+00', 'e', 1, 1, 1, 4.9e-324, false, NULL, NULL, NULL, NULL, NULL, '2000-01-01', '23:59:59.999999', '1999-12-31 23:59:59.999999', NULL, NULL, NULL, NULL)`);
  await admin.query(`INSERT INTO natives (ts, name, i8, f8, t, d, tsn)
    SELECT '2020-01-01'::timestamptz + g * interval '17 minutes 3.000007 seconds', 'row ' || (g % 7), g * 7919 - 500000, g / 7.0, repeat(chr(32 + g % 90), g % 40), DATE '1900-01-01' + g, '1970-01-01'::timestamp - g * interval '1 hour'
    FROM generate_series(1, 3000) g`);
  await admin.query('CREATE TABLE num_key (k numeric PRIMARY KEY, v text)');
  await admin.query("INSERT INTO num_key SELECT g * (CASE WHEN g % 2 = 0 THEN -1 ELSE 1 END) * 10 ^ (g % 4), 'v' || g FROM generate_series(1, 40) g");
  // Names a placeholder substitution could misread: `$2`, `$'`, `$&`, quotes.
  await admin.query(`CREATE SCHEMA "we$2ird'""s"`);
  await admin.query(`CREATE TABLE "we$2ird'""s"."t$'&$1""x" (id int PRIMARY KEY, v text)`);
  await admin.query(`INSERT INTO "we$2ird'""s"."t$'&$1""x" SELECT g, 'v' || g FROM generate_series(1, 30) g`);
  await admin.query('CREATE TABLE with_inet (id int PRIMARY KEY, addr inet, ok boolean)');
  await admin.query("INSERT INTO with_inet SELECT g, ('10.0.' || (g % 256) || '.1')::inet, g % 2 = 0 FROM generate_series(1, 50) g");
  const config = { connectionString: pgi.connectionString(), application_name: 'tributary-test' };
  binary = new ChunkReader(config, true);
  text = new ChunkReader(config, false);
});

after(async () => {
  await binary?.close();
  await text?.close();
  await admin?.end();
  await pgi?.stop();
});

/** Every chunk of a table, in key order. */
async function readAll(reader: ChunkReader, table: KeyedTable, chunkRows: number): Promise<RawChunk[]> {
  const chunks: RawChunk[] = [];
  let after: readonly string[] | null = null;
  for (;;) {
    const c = await reader.read(table, after, chunkRows);
    chunks.push(c);
    if (c.ends.length / 2 < chunkRows || c.lastKey === null) return chunks;
    after = c.lastKey;
  }
}

async function sameChunks(table: KeyedTable, chunkRows: number, expectedRows: number, format: 'binary' | 'text'): Promise<void> {
  const b = await readAll(binary, table, chunkRows);
  const t = await readAll(text, table, chunkRows);
  assert.deepEqual(new Set(b.map((c) => c.format)), new Set([format]), `${table.table}: read as ${format}`);
  assert.deepEqual(new Set(t.map((c) => c.format)), new Set(['text']));
  assert.equal(b.length, t.length, `${table.table}: chunk count`);
  let rows = 0;
  for (let i = 0; i < b.length; i++) {
    const bc = b[i] as RawChunk;
    const tc = t[i] as RawChunk;
    assert.deepEqual([...bc.ends], [...tc.ends], `${table.table} chunk ${i}: row boundaries`);
    assert.deepEqual(Buffer.from(bc.bytes).toString('hex'), Buffer.from(tc.bytes).toString('hex'), `${table.table} chunk ${i}: converted bytes`);
    assert.deepEqual(bc.relation, tc.relation);
    rows += bc.ends.length / 2;
  }
  assert.equal(rows, expectedRows, `${table.table}: every row read once`);
}

test('binary and text chunks of the type corpus are byte for byte the same', async () => {
  await sameChunks({ kind: 'keyed', table: 'public.all_types', keyColumns: ['id'], rowsEstimate: 4 }, 3, 4, 'binary');
});

test('every binary-read type at its extremes, and keyset pages over a composite (timestamptz, text) key', async () => {
  for (const size of [1, 7, 1000, 5000]) await sameChunks({ kind: 'keyed', table: 'public.natives', keyColumns: ['ts', 'name'], rowsEstimate: 3005 }, size, 3005, 'binary');
});

test('a key read as ::text still orders and pages by its own type (numeric keys whose text order differs)', async () => {
  await sameChunks({ kind: 'keyed', table: 'public.num_key', keyColumns: ['k'], rowsEstimate: 40 }, 3, 40, 'binary');
  const chunks = await readAll(binary, { kind: 'keyed', table: 'public.num_key', keyColumns: ['k'], rowsEstimate: 40 }, 3);
  const lastKeys = chunks.map((c) => c.lastKey?.[0]).filter((k): k is string => k !== undefined).map(Number);
  assert.deepEqual(lastKeys, [...lastKeys].sort((a, b) => a - b), 'chunks follow numeric order');
});

test('hostile schema and table names are read as themselves', async () => {
  await sameChunks({ kind: 'keyed', table: `we$2ird'"s.t$'&$1"x`, keyColumns: ['id'], rowsEstimate: 30 }, 7, 30, 'binary');
});

test('a table with a type that has its own cast to text (inet) is read as text, the same as before', async () => {
  await sameChunks({ kind: 'keyed', table: 'public.with_inet', keyColumns: ['id'], rowsEstimate: 50 }, 20, 50, 'text');
});
