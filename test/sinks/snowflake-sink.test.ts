/**
 * SnowflakeSink through the real `snowflake-sdk` connector against the local
 * Snowflake EMULATOR (test/support/snowflake-emulator: Snowflake's HTTP
 * protocol, statements executed on DuckDB). Snowflake itself is not reached
 * here; snowflake-live.test.ts runs the same checks on an account when
 * SNOWFLAKE_* variables are set.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { parseHubConfig } from '../../hub/config.js';
import { HubError } from '../../hub/errors.js';
import type { DeletePolicy } from '../../hub/sinks/merge/metadata.js';
import { SnowflakeSink } from '../../hub/sinks/snowflake/sink.js';
import type { SnowflakeSinkConfig } from '../../hub/sinks/snowflake/config.js';
import { snowflakeName } from '../../hub/sinks/snowflake/ddl.js';
import { ValueKind } from '../../proto/gen/tributary/v1/change_pb.js';
import { UNCHANGED } from '../../proto/tributary/v1/row-codec.js';
import { startSnowflakeEmulator, type SnowflakeEmulator } from '../support/snowflake-emulator/server.js';
import { tempDir } from '../support/pipeline.js';
import { ch, col, history, keyCol, people, table } from './changes.js';
import { SNOWFLAKE_CASES } from './snowflake-cases.js';

const signal = new AbortController().signal;
const dir = tempDir('snowflake-sink');
let emu: SnowflakeEmulator;
let schemaCount = 0;
const sinks: SnowflakeSink[] = [];
const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

before(async () => {
  emu = await startSnowflakeEmulator({ dir, user: 'loader', password: 'emulator-password', publicKey: keys.publicKey });
});
after(async () => {
  for (const s of sinks) await s[Symbol.asyncDispose]();
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

function sinkConfig(o: { schema: string; deletePolicy?: DeletePolicy; mode?: 'merge' | 'append'; name?: string; auth?: Record<string, unknown> }): SnowflakeSinkConfig {
  const config = parseHubConfig(
    {
      log: { path: '/unused' },
      sinks: [
        {
          kind: 'snowflake', name: o.name ?? 'snow', account: 'emulated', user: 'loader', auth: o.auth ?? { kind: 'password', password: 'emulator-password' },
          warehouse: 'WH', database: 'DB', schema: o.schema, accessUrl: emu.accessUrl, mode: o.mode ?? 'merge', deletePolicy: o.deletePolicy ?? 'hard', requestTimeoutMs: 3000,
        },
      ],
    },
    {},
  );
  return config.sinks[0] as SnowflakeSinkConfig;
}

function newSink(o: { schema?: string; deletePolicy?: DeletePolicy; mode?: 'merge' | 'append'; name?: string; auth?: Record<string, unknown> } = {}): SnowflakeSink {
  const s = new SnowflakeSink(sinkConfig({ schema: o.schema ?? `S${++schemaCount}`, ...o }));
  sinks.push(s);
  return s;
}

test('the type corpus lands by the documented mapping through PUT, COPY and MERGE', async () => {
  const sink = newSink({ schema: 'TYPES' });
  assert.equal(await sink.open(signal), null);
  const schema = table('all_types', [keyCol(), ...SNOWFLAKE_CASES.map(([c]) => c)]);
  await sink.write({ changes: [ch('insert', schema, { after: [1n, ...SNOWFLAKE_CASES.map(([, v]) => v)] })], lastOffset: 1n }, signal);
  const [row] = await emu.query(`SELECT ${SNOWFLAKE_CASES.map(([c]) => `CAST("${c.name.toUpperCase()}" AS VARCHAR)`).join(', ')} FROM "TYPES"."ALL_TYPES"`);
  SNOWFLAKE_CASES.forEach(([c, , text], i) => assert.equal(row?.[i], text, `value of ${c.name}`));
  const ddl = emu.statements.find((s) => s.startsWith('CREATE TABLE IF NOT EXISTS "TYPES"."ALL_TYPES"')) ?? '';
  for (const [c, , , type] of SNOWFLAKE_CASES) assert.ok(ddl.includes(`"${c.name.toUpperCase()}" ${type},`) || ddl.includes(`"${c.name.toUpperCase()}" ${type})`), `Snowflake type of ${c.name}: ${type}`);
  assert.ok(emu.statements.some((s) => /^PUT 'file:\/\/.+' @"_TRIBUTARY_STAGE"\//.test(s)), 'the batch went through PUT');
  assert.equal(await sink.open(signal), 1n);
});

test('values Snowflake cannot hold are refused by name, nothing committed', async () => {
  const sink = newSink();
  await sink.open(signal);
  const t = table('odd', [keyCol(), col('d', ValueKind.DATE, 'date')]);
  await assert.rejects(
    sink.write({ changes: [ch('insert', t, { after: [1n, { kind: 'date', days: 2147483647 }] })], lastOffset: 1n }, signal),
    (e: unknown) => e instanceof HubError && e.kind === 'sink-rejected' && /column "d": date infinity has no Snowflake form/.test(e.message),
  );
  assert.equal(await sink.open(signal), null);
});

async function peopleRows(schema: string, extra = '', relation = 'PEOPLE'): Promise<unknown[][]> {
  return emu.query(`SELECT "ID"::INTEGER, "NAME", "AGE"::INTEGER${extra} FROM "${schema}"."${relation}" ORDER BY "ID"`);
}

test('replaying the whole history twice leaves the tables unchanged (merge mode)', async () => {
  const sink = newSink({ schema: 'REPLAY' });
  await sink.open(signal);
  const log = history();
  for (const b of log) await sink.write(b, signal);
  const once = await peopleRows('REPLAY', ', "_TRIBUTARY_LSN"::VARCHAR, "_TRIBUTARY_OP"');
  assert.deepEqual(once.map((r) => r.slice(0, 3)), [[6, 'fay', 71]]);
  for (let i = 0; i < 2; i++) {
    await emu.query(`DELETE FROM "REPLAY"."_TRIBUTARY_OFFSETS"`);
    for (const b of log) await sink.write(b, signal);
  }
  assert.deepEqual(await peopleRows('REPLAY', ', "_TRIBUTARY_LSN"::VARCHAR, "_TRIBUTARY_OP"'), once);
});

test('append mode: a raw change table and a current-state view; replays add nothing', async () => {
  const sink = newSink({ schema: 'APPEND', mode: 'append' });
  await sink.open(signal);
  const log = history();
  for (const b of log) await sink.write(b, signal);
  assert.deepEqual(await peopleRows('APPEND'), [[6, 'fay', 71]]);
  const [[count]] = (await emu.query(`SELECT count(*) FROM "APPEND"."PEOPLE_CHANGES"`)) as [[number]];
  await emu.query(`DELETE FROM "APPEND"."_TRIBUTARY_OFFSETS"`);
  for (const b of log) await sink.write(b, signal);
  assert.deepEqual(await emu.query(`SELECT count(*) FROM "APPEND"."PEOPLE_CHANGES"`), [[count]]);
  assert.deepEqual(await peopleRows('APPEND'), [[6, 'fay', 71]]);
});

test('soft deletes keep tombstones; an older position never overwrites a newer row; TOAST values stay', async () => {
  const sink = newSink({ schema: 'SOFT', deletePolicy: 'soft' });
  await sink.open(signal);
  await sink.write({ changes: [ch('insert', people, { after: [1n, 'new', 2n], commit: 500n })], lastOffset: 1n }, signal);
  await sink.write({ changes: [ch('update', people, { after: [1n, 'old', 1n], commit: 400n })], lastOffset: 2n }, signal);
  assert.deepEqual(await peopleRows('SOFT'), [[1, 'new', 2]]);
  await sink.write({ changes: [ch('update', people, { after: [1n, UNCHANGED, 3n], commit: 550n })], lastOffset: 3n }, signal);
  assert.deepEqual(await peopleRows('SOFT'), [[1, 'new', 3]]);
  await sink.write({ changes: [ch('delete', people, { key: [1n], commit: 600n }), ch('delete', people, { key: [9n], commit: 600n, index: 1 })], lastOffset: 4n }, signal);
  await sink.write({ changes: [ch('insert', people, { after: [9n, 'zombie', 1n], commit: 300n })], lastOffset: 5n }, signal);
  assert.deepEqual(await peopleRows('SOFT', ', "_TRIBUTARY_DELETED"'), [[1, 'new', 3, true], [9, null, null, true]]);
});

test('hostile identifiers land quoted; names that land on one identifier are refused', async () => {
  const sink = newSink({ schema: "weird 'schema'; --" });
  await sink.open(signal);
  const names = ['select', 'a "quoted" name', 'with space', 'ünïcødé 🦀', "semi'; DROP TABLE x; --", 'Mixed', 'x'.repeat(255)];
  const t = table('order', [keyCol('from'), ...names.map((n) => col(n, ValueKind.TEXT, 'text'))]);
  await sink.write({ changes: [ch('insert', t, { after: [1n, ...names.map((n) => `v:${n.slice(0, 5)}`)] })], lastOffset: 1n }, signal);
  const cols = await emu.query(`SELECT column_name FROM duckdb_columns() WHERE schema_name = 'weird ''schema''; --' AND table_name = 'ORDER' ORDER BY column_index`);
  assert.deepEqual(cols.map((r) => r[0]).slice(0, names.length + 1), ['FROM', ...names.map(snowflakeName)]);
  const refused = (columns: ReturnType<typeof col>[], pattern: RegExp) =>
    assert.rejects(sink.write({ changes: [ch('insert', table('ok', [keyCol(), ...columns]), { after: [1n, ...columns.map(() => 'v')] })], lastOffset: 2n }, signal), (e: unknown) => e instanceof HubError && e.kind === 'schema' && pattern.test(e.message));
  await refused([col('name', ValueKind.TEXT, 'text'), col('NAME', ValueKind.TEXT, 'text')], /both land as Snowflake column "NAME"/);
  await refused([col('y'.repeat(256), ValueKind.TEXT, 'text')], /longer than 255/);
  await refused([col('_TRIBUTARY_op', ValueKind.TEXT, 'text')], /reserved prefix/);
  await sink.write({ changes: [ch('insert', table('items', [keyCol()]), { after: [1n] })], lastOffset: 3n }, signal);
  await assert.rejects(sink.write({ changes: [ch('insert', table('ITEMS', [keyCol()]), { after: [1n] })], lastOffset: 4n }, signal), /both land as Snowflake table ITEMS/);
});

test('key-pair (JWT) auth logs in; a wrong password is refused as sink-rejected, not retried as an outage', async () => {
  const sink = newSink({ auth: { kind: 'key-pair', privateKey: keys.privateKey } });
  assert.equal(await sink.open(signal), null);
  await sink.write({ changes: [ch('insert', people, { after: [1n, 'a', 1n] })], lastOffset: 1n }, signal);
  assert.equal(await sink.open(signal), 1n);
  const wrong = newSink({ auth: { kind: 'password', password: 'not-it' } });
  await assert.rejects(wrong.open(signal), (e: unknown) => e instanceof HubError && e.kind === 'sink-rejected' && /authentication refused/.test(e.message));
});
