/**
 * The doctor against real servers: a private PostgreSQL whose slot is
 * limited by max_slot_wal_keep_size (WAL written while nobody consumes the
 * slot: time left, then an invalidated slot, each with the statement that
 * fixes it), a server with wal_level=replica through the CLI, and a private
 * MariaDB with wrong binlog settings, missing privileges and a purged
 * binlog. Every problem is listed with its fix, not just the first.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseAgentConfig, type AgentConfig } from '../agent/config.js';
import { Doctor } from '../agent/doctor/doctor.js';
import type { DoctorReport, Finding } from '../agent/doctor/finding.js';
import { startMariaDb, type MariaDbInstance } from './support/mariadb.js';
import { startPostgres, type PgInstance } from './support/postgres.js';

const CLI = resolve(import.meta.dirname, '../scripts/tributary.mjs');
const dir = mkdtempSync(join(tmpdir(), 'tributary-doctor-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function agentConfig(source: Record<string, unknown>): { config: AgentConfig; file: string } {
  const json = { agentId: 'doc', hub: { address: '127.0.0.1:1', plaintext: true }, spool: { path: join(dir, 'spool') }, source };
  const file = join(dir, `agent-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(json));
  return { config: parseAgentConfig(json, {}), file };
}

function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CLI, 'doctor', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

const find = (r: DoctorReport, check: string): Finding | undefined => r.findings.find((f) => f.check === check);

describe('doctor: PostgreSQL', { timeout: 240_000 }, () => {
  let pgi: PgInstance;
  let db: pg.Client;
  let source: Record<string, unknown>;

  before(async () => {
    // One 16 MiB WAL segment per pg_switch_wal(): 64 MiB is four segments.
    pgi = await startPostgres({ walLevel: 'logical', settings: { max_slot_wal_keep_size: '64MB', max_wal_size: '32MB', min_wal_size: '32MB' } });
    await pgi.createDatabase('shop');
    db = new pg.Client({ connectionString: pgi.connectionString('shop') });
    await db.connect();
    await db.query('CREATE TABLE public.orders (id int PRIMARY KEY); CREATE TABLE public.nokey (a int); CREATE TABLE public.wal (x int); CREATE PUBLICATION doc_pub FOR ALL TABLES');
    await db.query("SELECT pg_create_logical_replication_slot('doc_slot', 'pgoutput')");
    source = { kind: 'postgres', id: 'shop', host: '127.0.0.1', port: pgi.port, database: 'shop', user: 'postgres', slot: 'doc_slot', publication: 'doc_pub' };
  });
  after(async () => {
    await db?.end();
    await pgi?.stop();
  });

  /** `n` new WAL segments that nobody consumes from the slot. */
  async function writeWal(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await db.query('INSERT INTO public.wal VALUES (1); SELECT pg_switch_wal()');
  }

  it('finds the unkeyed table and a slot about to be invalidated, with the time left and the fix', async () => {
    const doctor = new Doctor(agentConfig(source).config.source);
    await doctor.baseline();
    await writeWal(3);
    const r = await doctor.check({ running: false });
    assert.equal(find(r, 'wal_level')?.severity, 'ok');
    assert.equal(find(r, 'role')?.severity, 'ok');
    assert.equal(find(r, 'publication')?.severity, 'ok');
    const nokey = find(r, 'replica_identity.public.nokey');
    assert.equal(nokey?.severity, 'critical');
    assert.equal(nokey?.fix, 'ALTER TABLE "public"."nokey" ADD PRIMARY KEY (...); or ALTER TABLE "public"."nokey" REPLICA IDENTITY FULL;');
    assert.equal(find(r, 'replica_identity.public.orders'), undefined);
    assert.match(find(r, 'slot')?.message ?? '', /exists \(inactive/);
    const retention = find(r, 'slot.retention');
    assert.equal(retention?.severity, 'critical', JSON.stringify(retention));
    assert.match(retention?.message ?? '', /slot "doc_slot" retains [3-5]\d\.\d MiB of max_slot_wal_keep_size 64\.0 MiB \(\d+%\); invalidated in about \d+ s at the current pace; an agent outage starting now could last \d+ s \(WAL rate [\d.]+ MiB\/s\)/);
    assert.match(retention?.fix ?? '', /ALTER SYSTEM SET max_slot_wal_keep_size = '\d+MB'; SELECT pg_reload_conf\(\);/);
  });

  it('reports an invalidated slot through the CLI (--json, exit 1) with the statement that fixes it', async () => {
    await writeWal(3);
    await db.query('CHECKPOINT');
    const { code, stdout } = await cli('--config', agentConfig(source).file, '--json', '--sample-seconds', '0');
    assert.equal(code, 1);
    const r = JSON.parse(stdout) as DoctorReport & { status: string; source: string };
    assert.equal(r.status, 'critical');
    assert.equal(r.source, 'shop');
    const status = find(r, 'slot.wal_status');
    assert.equal(status?.severity, 'critical');
    assert.match(status?.message ?? '', /wal_status lost/);
    assert.match(status?.fix ?? '', /SELECT pg_drop_replication_slot\('doc_slot'\); then start the agent with a new spool and re-snapshot/);
  });

  it('a missing publication and slot: fine before the first start, unless the publication may not be created', async () => {
    const { config } = agentConfig({ ...source, slot: 'fresh_slot', publication: 'fresh_pub', createPublication: false });
    const r = await new Doctor(config.source).check({ running: false });
    assert.equal(find(r, 'slot')?.severity, 'ok');
    assert.equal(find(r, 'publication')?.severity, 'critical');
    assert.equal(find(r, 'publication')?.fix, 'CREATE PUBLICATION "fresh_pub" FOR ALL TABLES;');
    const running = await new Doctor(config.source).check({ running: true });
    assert.equal(find(running, 'slot')?.severity, 'critical', 'a running agent without its slot lost changes');
  });

  it('an unreachable server is a finding, not a crash', async () => {
    const r = await new Doctor(agentConfig({ ...source, port: 1 }).config.source).check({ running: false });
    assert.equal(r.findings.length, 1);
    assert.equal(find(r, 'connection')?.severity, 'critical');
    assert.match(find(r, 'connection')?.message ?? '', /cannot query source shop at 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });
});

describe('doctor: CLI', { timeout: 120_000 }, () => {
  let pgi: PgInstance;
  before(async () => {
    pgi = await startPostgres({ walLevel: 'replica' });
  });
  after(async () => {
    await pgi?.stop();
  });

  it('names wal_level and its fix in human output, exit status 1', async () => {
    const { file } = agentConfig({ kind: 'postgres', id: 'shop', host: '127.0.0.1', port: pgi.port, database: 'postgres', user: 'postgres', slot: 's', publication: 'p' });
    const { code, stdout } = await cli('--config', file, '--sample-seconds', '0');
    assert.equal(code, 1);
    assert.match(stdout, /^source shop \(postgres 127\.0\.0\.1:\d+\/postgres\), checked /);
    assert.match(stdout, /\n {2}CRITICAL {2}wal_level +wal_level is "replica"; logical replication needs "logical"\n +fix: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL\n/);
    assert.match(stdout, /\n1 critical, 0 warning\(s\), \d+ ok\n$/);
  });

  it('usage and configuration errors exit 2', async () => {
    assert.equal((await cli()).code, 2);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"agentId": "x"}');
    const r = await cli('--config', bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /hub: expected an object/);
  });
});

describe('doctor: MariaDB', { timeout: 180_000 }, () => {
  let m: MariaDbInstance;
  before(async () => {
    m = await startMariaDb();
    await m.exec("CREATE USER 'agent'@'%' IDENTIFIED BY 'pw'", "GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'agent'@'%'", "CREATE USER 'weak'@'%' IDENTIFIED BY 'pw'", "GRANT SELECT ON *.* TO 'weak'@'%'");
  });
  after(async () => {
    await m?.stop();
  });
  const source = (user = 'agent'): Record<string, unknown> => ({ kind: 'mysql', id: 'shop', host: '127.0.0.1', port: m.port, user, password: 'pw', serverId: 4242 });

  it('lists every bad binlog setting with the statement that fixes it', async () => {
    await m.exec("SET GLOBAL binlog_format = 'STATEMENT'", "SET GLOBAL binlog_row_image = 'MINIMAL'");
    try {
      const r = await new Doctor(agentConfig(source()).config.source).check({ running: false });
      assert.equal(find(r, 'binlog_format')?.severity, 'critical');
      assert.equal(find(r, 'binlog_format')?.message, 'binlog_format is "STATEMENT"');
      assert.match(find(r, 'binlog_format')?.fix ?? '', /^the source needs ROW: run SET GLOBAL binlog_format = 'ROW'; and set it in the server configuration file/);
      assert.match(find(r, 'binlog_row_image')?.fix ?? '', /SET GLOBAL binlog_row_image = 'FULL'/);
      assert.equal(find(r, 'privileges')?.severity, 'ok');
      assert.equal(find(r, 'binlog.retained')?.severity, 'ok');
      const { code, stdout } = await cli('--config', agentConfig(source()).file);
      assert.equal(code, 1);
      assert.match(stdout, /CRITICAL {2}binlog_format/);
      assert.match(stdout, /CRITICAL {2}binlog_row_image/);
    } finally {
      await m.exec("SET GLOBAL binlog_format = 'ROW'", "SET GLOBAL binlog_row_image = 'FULL'");
    }
    const fixed = await new Doctor(agentConfig(source()).config.source).check({ running: false });
    assert.deepEqual(fixed.findings.filter((f) => f.severity !== 'ok'), []);
  });

  it('names missing privileges and the GRANT', async () => {
    const r = await new Doctor(agentConfig(source('weak')).config.source).check({ running: false });
    assert.equal(find(r, 'privileges')?.severity, 'critical');
    assert.match(find(r, 'privileges')?.fix ?? '', /^run GRANT REPLICATION SLAVE, REPLICATION CLIENT ON \*\.\* TO 'weak'@'%';/);
  });

  it("a running agent whose binlog was purged is told so", async () => {
    const conn = await m.connect();
    try {
      await conn.query('FLUSH BINARY LOGS');
      await conn.query('FLUSH BINARY LOGS');
      const [logs] = await conn.query('SHOW BINARY LOGS');
      const names = (logs as { Log_name: string }[]).map((l) => l.Log_name);
      const first = Number(/\.(\d+)$/.exec(names[0] ?? '')?.[1]);
      // MariaDB keeps a binlog until its binlog checkpoint (InnoDB made the transactions in it durable),
      // which a loaded machine delays: purge until the oldest file is really gone.
      const deadline = Date.now() + 60_000;
      for (;;) {
        await conn.query(`PURGE BINARY LOGS TO '${names[names.length - 1]}'`);
        const [left] = await conn.query('SHOW BINARY LOGS');
        if ((left as { Log_name: string }[])[0]?.Log_name === names[names.length - 1]) break;
        if (Date.now() > deadline) throw new Error(`PURGE BINARY LOGS left ${(left as { Log_name: string }[]).map((l) => l.Log_name).join(', ')} for 60 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const r = await new Doctor(agentConfig(source()).config.source).check({ running: true, position: (BigInt(first) << 32n) + 400n });
      assert.equal(find(r, 'binlog.retained')?.severity, 'critical');
      assert.match(find(r, 'binlog.retained')?.message ?? '', new RegExp(`file number ${first}\\) was purged; the oldest on the server is ${names[names.length - 1]?.replace('.', '\\.')}`));
    } finally {
      await conn.end();
    }
  });
});
