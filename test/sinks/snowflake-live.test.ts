/**
 * Opt-in test against a real Snowflake account. Runs only when SNOWFLAKE_ACCOUNT,
 * SNOWFLAKE_USER, SNOWFLAKE_WAREHOUSE, SNOWFLAKE_DATABASE and either
 * SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH are set (SNOWFLAKE_ROLE
 * optional); otherwise it is reported as SKIPPED with the reason, never as
 * passed. It works in a fresh schema TRIBUTARY_TEST_<random> and drops it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseHubConfig } from '../../hub/config.js';
import { SnowflakeClient } from '../../hub/sinks/snowflake/client.js';
import type { SnowflakeSinkConfig } from '../../hub/sinks/snowflake/config.js';
import { SnowflakeSink } from '../../hub/sinks/snowflake/sink.js';
import { ch, history, keyCol, table } from './changes.js';
import { SNOWFLAKE_CASES } from './snowflake-cases.js';

const env = process.env;
const missing = ['SNOWFLAKE_ACCOUNT', 'SNOWFLAKE_USER', 'SNOWFLAKE_WAREHOUSE', 'SNOWFLAKE_DATABASE'].filter((k) => !env[k]);
if (!env['SNOWFLAKE_PASSWORD'] && !env['SNOWFLAKE_PRIVATE_KEY_PATH']) missing.push('SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH');
const signal = new AbortController().signal;

test('live Snowflake: type corpus, whole-history replay twice, append mode', async (t) => {
  if (missing.length > 0) {
    const reason = `SKIPPED: no Snowflake account configured (set ${missing.join(', ')}); Snowflake itself was NOT tested, only the local emulator`;
    process.stderr.write(`\n*** snowflake-live: ${reason} ***\n\n`);
    t.skip(reason);
    return;
  }
  const schema = `TRIBUTARY_TEST_${randomBytes(4).toString('hex').toUpperCase()}`;
  const auth = env['SNOWFLAKE_PRIVATE_KEY_PATH']
    ? { kind: 'key-pair', privateKey: readFileSync(env['SNOWFLAKE_PRIVATE_KEY_PATH'], 'utf8'), ...(env['SNOWFLAKE_PRIVATE_KEY_PASSPHRASE'] ? { passphrase: env['SNOWFLAKE_PRIVATE_KEY_PASSPHRASE'] } : {}) }
    : { kind: 'password', password: env['SNOWFLAKE_PASSWORD'] };
  const config = (mode: 'merge' | 'append') =>
    parseHubConfig(
      {
        log: { path: '/unused' },
        sinks: [
          {
            kind: 'snowflake', name: `live-${mode}`, account: env['SNOWFLAKE_ACCOUNT'], user: env['SNOWFLAKE_USER'], auth, warehouse: env['SNOWFLAKE_WAREHOUSE'],
            database: env['SNOWFLAKE_DATABASE'], schema, mode, ...(env['SNOWFLAKE_ROLE'] ? { role: env['SNOWFLAKE_ROLE'] } : {}),
          },
        ],
      },
      {},
    ).sinks[0] as SnowflakeSinkConfig;
  const admin = new SnowflakeClient(config('merge'));
  const merge = new SnowflakeSink(config('merge'));
  const append = new SnowflakeSink(config('append'));
  try {
    assert.equal(await merge.open(signal), null);
    const types = table('all_types', [keyCol(), ...SNOWFLAKE_CASES.map(([c]) => c)]);
    await merge.write({ changes: [ch('insert', types, { after: [1n, ...SNOWFLAKE_CASES.map(([, v]) => v)] })], lastOffset: 1n }, signal);
    const cols = await admin.exec(`SELECT column_name AS "n", data_type AS "t" FROM information_schema.columns WHERE table_schema = ? AND table_name = 'ALL_TYPES'`, [schema]);
    assert.equal(cols.length, SNOWFLAKE_CASES.length + 6);
    const log = history();
    for (const b of log) await merge.write({ ...b, lastOffset: b.lastOffset + 1n }, signal);
    const once = await admin.exec(`SELECT "ID", "NAME", "AGE", "_TRIBUTARY_LSN" FROM "${schema}"."PEOPLE" ORDER BY "ID"`);
    assert.deepEqual(once.map((r) => [r['ID'], r['NAME'], r['AGE']]), [['6', 'fay', '71']]);
    for (let i = 0; i < 2; i++) {
      await admin.exec(`DELETE FROM "${schema}"."_TRIBUTARY_OFFSETS"`);
      for (const b of log) await merge.write({ ...b, lastOffset: b.lastOffset + 1n }, signal);
      assert.deepEqual(await admin.exec(`SELECT "ID", "NAME", "AGE", "_TRIBUTARY_LSN" FROM "${schema}"."PEOPLE" ORDER BY "ID"`), once);
    }
    await append.open(signal);
    for (const b of log) await append.write(b, signal);
    const view = await admin.exec(`SELECT "ID", "NAME", "AGE" FROM "${schema}"."PEOPLE" ORDER BY "ID"`);
    assert.deepEqual(view.map((r) => [r['ID'], r['NAME'], r['AGE']]), [['6', 'fay', '71']]);
  } finally {
    await admin.exec(`DROP SCHEMA IF EXISTS "${schema}"`).catch(() => undefined);
    await merge[Symbol.asyncDispose]();
    await append[Symbol.asyncDispose]();
    await admin.close();
  }
});
