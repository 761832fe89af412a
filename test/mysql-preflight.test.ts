/**
 * Pre-flight checks against a real MariaDB: each misconfiguration fails with
 * the setting and the statement that fixes it; a purged resume position
 * stops the agent loudly instead of skipping to the oldest binlog.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { parseMySqlSource, type MySqlSourceConfig } from '../agent/sources/mysql/config.js';
import { preflight } from '../agent/sources/mysql/preflight.js';
import { FieldReader } from '../agent/config.js';
import { AgentError } from '../agent/errors.js';
import { startMariaDb, type MariaDbInstance } from './support/mariadb.js';
import { binlogStreaming, convergedRows, startMySqlE2E, type MySqlE2E } from './support/mysql-e2e.js';
import { waitFor, type ManagedProcess } from './support/pipeline.js';

function config(port: number, user: string, serverId: number): MySqlSourceConfig {
  const r = new FieldReader({});
  const c = parseMySqlSource(r, { kind: 'mysql', id: 'shop', port, user, password: 'pw', serverId });
  assert.deepEqual(r.errors, []);
  return c;
}

async function check(m: MariaDbInstance, user: string, serverId = 4242): Promise<AgentError> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: m.port, user, password: 'pw' });
  try {
    await preflight(conn, config(m.port, user, serverId));
  } catch (e) {
    assert.ok(e instanceof AgentError, `expected an AgentError, got ${String(e)}`);
    return e;
  } finally {
    await conn.end();
  }
  assert.fail('pre-flight passed on a misconfigured server');
}

describe('MySQL source pre-flight', { timeout: 120_000 }, () => {
  let m: MariaDbInstance;

  before(async () => {
    m = await startMariaDb();
    await m.exec("CREATE USER 'agent'@'%' IDENTIFIED BY 'pw'", "GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'agent'@'%'");
  });
  after(async () => {
    await m?.stop();
  });

  it('passes on a correctly configured server', async () => {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: m.port, user: 'agent', password: 'pw' });
    try {
      const info = await preflight(conn, config(m.port, 'agent', 4242));
      assert.equal(info.mariadb, true);
    } finally {
      await conn.end();
    }
  });

  const settings: readonly [string, string, string, RegExp][] = [
    ['binlog_format', "'STATEMENT'", "'ROW'", /binlog_format is "STATEMENT": the source needs ROW: run SET GLOBAL binlog_format = 'ROW'/],
    ['binlog_row_image', "'MINIMAL'", "'FULL'", /binlog_row_image is "MINIMAL": the source needs FULL: run SET GLOBAL binlog_row_image = 'FULL'/],
    ['binlog_row_metadata', "'MINIMAL'", "'FULL'", /binlog_row_metadata is "MINIMAL": the source needs FULL: run SET GLOBAL binlog_row_metadata = 'FULL'/],
    ['log_bin_compress', 'ON', 'OFF', /log_bin_compress is "ON": compressed binlog events cannot be decoded: run SET GLOBAL log_bin_compress = OFF/],
    ['binlog_expire_logs_seconds', '600', '0', /binlog_expire_logs_seconds is "600": binlogs expire after 600 s.*SET GLOBAL binlog_expire_logs_seconds = 604800/],
  ];
  for (const [name, bad, good, message] of settings) {
    it(`names ${name} and the statement that fixes it`, async () => {
      await m.exec(`SET GLOBAL ${name} = ${bad}`);
      try {
        const err = await check(m, 'agent');
        assert.equal(err.kind, 'source-misconfigured');
        assert.match(err.message, message);
      } finally {
        await m.exec(`SET GLOBAL ${name} = ${good}`);
      }
    });
  }

  it('names the missing privileges and the GRANT that adds them', async () => {
    await m.exec("CREATE USER 'weak'@'%' IDENTIFIED BY 'pw'", "GRANT SELECT ON *.* TO 'weak'@'%'");
    const err = await check(m, 'weak');
    assert.equal(err.kind, 'source-permission');
    assert.match(err.message, /user weak lacks REPLICATION SLAVE, REPLICATION CLIENT: run GRANT REPLICATION SLAVE, REPLICATION CLIENT ON \*\.\* TO 'weak'@'%'/);
  });

  it('refuses a serverId equal to the server\'s own server_id', async () => {
    const err = await check(m, 'agent', m.serverId);
    assert.equal(err.kind, 'config');
    assert.match(err.message, new RegExp(`source.serverId ${m.serverId} equals the server's own server_id`));
  });

  it('names log_bin when the binary log is off', async () => {
    const off = await startMariaDb({ args: ['--no-log-bin'] });
    try {
      await off.exec("CREATE USER 'agent'@'%' IDENTIFIED BY 'pw'", "GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'agent'@'%'");
      const err = await check(off, 'agent');
      assert.equal(err.kind, 'source-misconfigured');
      assert.match(err.message, /log_bin is "OFF": the binary log is off; start the server with --log-bin/);
    } finally {
      await off.stop();
    }
  });
});

async function exited(p: ManagedProcess, logPath: string): Promise<string> {
  await waitFor('the agent to exit', () => !p.running, 60_000);
  return readFile(logPath, 'utf8');
}

describe('MySQL source stops loudly', { timeout: 180_000 }, () => {
  let e: MySqlE2E;

  before(async () => {
    e = await startMySqlE2E({ name: 'mysql-purge' });
    await e.src.query('CREATE TABLE p (id int PRIMARY KEY)');
    e.hub.start();
  });
  after(async () => {
    await e?.close();
  });

  it('exits with the pre-flight message when the server is misconfigured', async () => {
    await e.mdb.exec("SET GLOBAL binlog_format = 'MIXED'");
    const agent = e.agentWith({}, 'misconfigured');
    try {
      agent.start();
      const log = await exited(agent, agent.logPath);
      assert.match(log, /source stopped: this needs attention.*binlog_format is \\"MIXED\\"/);
    } finally {
      agent.close();
      await e.mdb.exec("SET GLOBAL binlog_format = 'ROW'");
    }
  });

  it('stops when the binlog it must resume from was purged, never skipping to the oldest one', async () => {
    e.agent.start();
    await binlogStreaming(e);
    await e.src.query('INSERT INTO p VALUES (1), (2)');
    await convergedRows(e, 'SELECT CAST(id AS CHAR) FROM p ORDER BY id', 'SELECT id::text FROM public.shop_p x ORDER BY x.id');
    await e.agent.stop();
    await e.src.query('INSERT INTO p VALUES (3)');
    // MariaDB keeps a binlog until InnoDB no longer needs it for crash recovery
    // (its binlog checkpoint moves on): flush and purge until the old files are gone.
    await waitFor('the old binlogs to be purged', async () => {
      await e.src.query('FLUSH BINARY LOGS');
      const [rows] = await e.src.query('SHOW MASTER STATUS');
      const file = String((rows as { File: string }[])[0]?.File);
      await e.src.query(`PURGE BINARY LOGS TO '${file}'`);
      const [logs] = await e.src.query('SHOW BINARY LOGS');
      return (logs as { Log_name: string }[])[0]?.Log_name === file;
    }, 60_000, 500);
    await e.src.query('INSERT INTO p VALUES (4)');
    e.agent.start();
    const log = await exited(e.agent, e.agent.logPath);
    assert.match(log, /source stopped: this needs attention.*the binlog this agent must resume from was purged.*re-snapshot/);
    const [[count]] = [(await e.dst.query<{ n: string }>('SELECT count(*)::text AS n FROM public.shop_p')).rows];
    assert.equal(count?.n, '2', 'nothing after the gap was applied');
  });
});
