/**
 * The PostgreSQL sink on the shared merge design: the whole history replayed
 * twice without the ledger changes nothing, and the soft-delete policy keeps
 * tombstones that a replayed older insert cannot bring back.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { PostgresSink } from '../../hub/sinks/postgres/sink.js';
import { startPostgres, type PgInstance } from '../support/postgres.js';
import { ch, history, people } from './changes.js';

let pgi: PgInstance;
let client: pg.Client;
const signal = new AbortController().signal;

before(async () => {
  pgi = await startPostgres();
  await pgi.createDatabase('dst');
  client = new pg.Client({ connectionString: pgi.connectionString('dst') });
  await client.connect();
});
after(async () => {
  await client?.end();
  await pgi?.stop();
});

const rows = async (schema: string, extra = '') => (await client.query({ text: `SELECT id, name, age${extra} FROM ${schema}.people ORDER BY id`, rowMode: 'array' })).rows;

test('replaying the whole history twice leaves the table unchanged, synced_at included', async () => {
  const sink = new PostgresSink({ name: 'pg', connectionString: pgi.connectionString('dst'), schema: 'replay' });
  try {
    await sink.open(signal);
    const log = history();
    for (const b of log) await sink.write(b, signal);
    const once = await rows('replay', ', _tributary_lsn, _tributary_op, _tributary_synced_at');
    assert.deepEqual(once.map((r) => r.slice(0, 3)), [[6, 'fay', 71]]);
    for (let i = 0; i < 2; i++) {
      await client.query('DELETE FROM replay._tributary_offsets');
      for (const b of log) await sink.write(b, signal);
      assert.deepEqual(await rows('replay', ', _tributary_lsn, _tributary_op, _tributary_synced_at'), once);
    }
  } finally {
    await sink[Symbol.asyncDispose]();
  }
});

test('soft deletes: tombstones, the guard, truncate marks rows deleted', async () => {
  const sink = new PostgresSink({ name: 'pg', connectionString: pgi.connectionString('dst'), schema: 'soft', deletePolicy: 'soft' });
  try {
    await sink.open(signal);
    await sink.write({ changes: [ch('insert', people, { after: [1n, 'ann', 1n], commit: 500n })], lastOffset: 1n }, signal);
    await sink.write({ changes: [ch('delete', people, { key: [1n], commit: 600n }), ch('delete', people, { key: [9n], commit: 600n, index: 1 })], lastOffset: 2n }, signal);
    assert.deepEqual(await rows('soft', ', _tributary_deleted, _tributary_op'), [[1, 'ann', 1, true, 'd'], [9, null, null, true, 'd']]);
    await sink.write({ changes: [ch('insert', people, { after: [9n, 'zombie', 1n], commit: 300n })], lastOffset: 3n }, signal);
    assert.deepEqual(await rows('soft', ', _tributary_deleted'), [[1, 'ann', 1, true], [9, null, null, true]], 'an older insert cannot revive a tombstone');
    await sink.write({ changes: [ch('insert', people, { after: [1n, 'back', 2n], commit: 700n })], lastOffset: 4n }, signal);
    assert.deepEqual(await rows('soft', ', _tributary_deleted'), [[1, 'back', 2, false], [9, null, null, true]]);
    await sink.write({ changes: [ch('truncate', people, { commit: 800n })], lastOffset: 5n }, signal);
    assert.deepEqual(await rows('soft', ', _tributary_deleted, _tributary_op'), [[1, 'back', 2, true, 't'], [9, null, null, true, 't']]);
  } finally {
    await sink[Symbol.asyncDispose]();
  }
});
