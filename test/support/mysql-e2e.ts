/**
 * A private MariaDB (source) and a private PostgreSQL (destination), with a
 * hub and a `mysql` agent process wired to them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type mysql from 'mysql2/promise';
import { startMariaDb, type MariaDbInstance } from './mariadb.js';
import { freePort, hubProcess, ManagedProcess, tempDir, waitFor } from './pipeline.js';
import { startPostgres, type PgInstance } from './postgres.js';

export interface MySqlE2E {
  readonly mdb: MariaDbInstance;
  readonly pgi: PgInstance;
  readonly src: mysql.Connection;
  readonly dst: pg.Pool;
  readonly hub: ManagedProcess;
  /** The same hub (same log) configured without sinks. */
  readonly hubLogOnly: ManagedProcess;
  readonly agent: ManagedProcess;
  readonly dir: string;
  readonly httpPort: number;
  readonly serverId: number;
  /** Writes an agent configuration with these source fields changed and returns a process for it. */
  agentWith(source: Record<string, unknown>, name: string): ManagedProcess;
  close(): Promise<void>;
}

export interface MySqlE2EOptions {
  readonly name: string;
  readonly batchEvents?: number;
  readonly mariadbArgs?: readonly string[];
}

export async function startMySqlE2E(o: MySqlE2EOptions): Promise<MySqlE2E> {
  const [mdb, pgi] = await Promise.all([startMariaDb({ args: o.mariadbArgs ?? [] }), startPostgres({ walLevel: 'replica' })]);
  await pgi.createDatabase('dst');
  await prepareShop(mdb);
  const dir = tempDir(o.name);
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const hubSetup = { dir: join(dir, 'hub'), grpcPort, httpPort, sinkPort: pgi.port, sinkDatabase: 'dst', agentId: 'agent-1', sourceId: 'shop' };
  const hub = hubProcess(hubSetup);
  const hubLogOnly = hubProcess({ ...hubSetup, withSink: false });
  const serverId = mdb.serverId + 1;
  const agentWith = (source: Record<string, unknown>, name: string): ManagedProcess =>
    mysqlAgentProcess({ dir: join(dir, name), hubPort: grpcPort, mdb, serverId, source, batchEvents: o.batchEvents });
  const agent = agentWith({}, 'agent');
  const src = await mdb.connect('shop');
  const dst = new pg.Pool({ connectionString: pgi.connectionString('dst'), max: 2 });
  dst.on('error', () => undefined);
  return {
    mdb,
    pgi,
    src,
    dst,
    hub,
    hubLogOnly,
    agent,
    dir,
    httpPort,
    serverId,
    agentWith,
    async close() {
      await agent.stop();
      await hub.stop();
      await hubLogOnly.stop();
      agent.close();
      hub.close();
      hubLogOnly.close();
      await src.end().catch(() => undefined);
      await dst.end();
      await Promise.all([mdb.stop(), pgi.stop()]);
    },
  };
}

/** Creates the `shop` database and the agent's replication user `tributary` (password `repl-pw`). */
export async function prepareShop(mdb: MariaDbInstance): Promise<void> {
  await mdb.exec(
    'CREATE DATABASE shop',
    "CREATE USER 'tributary'@'%' IDENTIFIED BY 'repl-pw'",
    "GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'tributary'@'%'",
  );
}

export interface MySqlAgentSetup {
  readonly dir: string;
  readonly hubPort: number;
  readonly mdb: MariaDbInstance;
  readonly serverId: number;
  /** Source fields to change. */
  readonly source?: Record<string, unknown>;
  readonly batchEvents?: number | undefined;
}

/** Writes an agent configuration for source `shop` (agent `agent-1`, tables `shop.*`) and returns a process for it. */
export function mysqlAgentProcess(a: MySqlAgentSetup): ManagedProcess {
  mkdirSync(a.dir, { recursive: true });
  const config = {
    agentId: 'agent-1',
    hub: { address: `127.0.0.1:${a.hubPort}`, plaintext: true },
    spool: { path: join(a.dir, 'spool'), maxBytes: 1 << 30, batchEvents: a.batchEvents ?? 2000 },
    source: {
      kind: 'mysql',
      id: 'shop',
      host: '127.0.0.1',
      port: a.mdb.port,
      user: 'tributary',
      password: { env: 'TRIBUTARY_TEST_MYSQL_PASSWORD' },
      serverId: a.serverId,
      tables: ['shop.*'],
      ...a.source,
    },
    logLevel: 'info',
  };
  const path = join(a.dir, 'agent.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return new ManagedProcess('agent', ['agent', '--config', path], join(a.dir, 'agent.log'), { TRIBUTARY_TEST_MYSQL_PASSWORD: 'repl-pw' });
}

/** Waits until the agent's binlog dump connection is open on the server. */
export async function binlogStreaming(e: Pick<MySqlE2E, 'src'>): Promise<void> {
  await waitFor(
    'the agent to stream the binlog',
    async () => {
      const [rows] = await e.src.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
      return Number((rows as { n: unknown }[])[0]?.n) > 0;
    },
    60_000,
  );
}

/** Rows of a query as arrays of text (NULL as null), for comparing source and destination. */
export async function mysqlRows(c: mysql.Connection, sql: string): Promise<(string | null)[][]> {
  const [rows] = await c.query({ sql, rowsAsArray: true });
  return (rows as unknown[][]).map((r) => r.map((v) => (v === null ? null : Buffer.isBuffer(v) ? `\\x${v.toString('hex')}` : normFloat(String(v)))));
}

export async function pgRows(p: pg.Pool, sql: string): Promise<(string | null)[][]> {
  const r = await p.query({ text: sql, rowMode: 'array' });
  return (r.rows as unknown[][]).map((row) => row.map((v) => (v === null ? null : normFloat(String(v)))));
}

/** Floats in exponent form as JS prints them ('1e38' and '1e+38' are the same double). */
export function normFloat(text: string): string {
  return /^-?\d(\.\d+)?e[+-]?\d+$/.test(text) ? String(Number(text)) : text;
}

/** Waits until both queries return the same rows. */
export async function convergedRows(e: MySqlE2E, mysqlSql: string, pgSql: string, timeoutMs = 120_000): Promise<void> {
  let last = '';
  await waitFor(
    'destination to equal source',
    async () => {
      const [a, b] = await Promise.all([mysqlRows(e.src, mysqlSql), pgRows(e.dst, pgSql).catch(() => [])]);
      last = `source ${a.length} rows, destination ${b.length} rows${firstDifference(a, b)}`;
      return JSON.stringify(a) === JSON.stringify(b);
    },
    timeoutMs,
    250,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)} (${last}); logs in ${e.dir}`);
  });
}

function firstDifference(a: (string | null)[][], b: (string | null)[][]): string {
  for (let r = 0; r < Math.min(a.length, b.length); r++)
    for (let c = 0; c < Math.max(a[r]!.length, b[r]!.length); c++)
      if (a[r]![c] !== b[r]![c]) return `; first difference: row ${r} column ${c}: source ${JSON.stringify(a[r]![c])?.slice(0, 120)}, destination ${JSON.stringify(b[r]![c])?.slice(0, 120)}`;
  return '';
}
