/**
 * Schema-drift tests: one hub (embedded log) landing a source in a PostgreSQL
 * destination, DuckDB and Snowflake (the local emulator), plus the reads that
 * compare each destination with the source column by column through the
 * documented evolution policy (README, "Schema drift").
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { ManagedProcess, TEST_ADMIN_TOKEN, freePort, httpJson, waitFor } from './pipeline.js';
import { startPostgres, type PgInstance } from './postgres.js';
import { startSnowflakeEmulator, type SnowflakeEmulator } from './snowflake-emulator/server.js';

export interface DriftHub {
  readonly hub: ManagedProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly dst: pg.Pool;
  readonly dstPg: PgInstance;
  readonly emu: SnowflakeEmulator;
  readonly duckPath: string;
  close(): Promise<void>;
}

export async function startDriftHub(dir: string, agentId: string, sourceId: string): Promise<DriftHub> {
  const dstPg = await startPostgres();
  await dstPg.createDatabase('dst');
  const duckPath = join(dir, 'warehouse.duckdb');
  const emu = await startSnowflakeEmulator({ dir: join(dir, 'snowflake'), user: 'loader', password: 'emulator-password' });
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const config = {
    hubId: 'drift-hub',
    grpc: { listen: `127.0.0.1:${grpcPort}` },
    http: { listen: `127.0.0.1:${httpPort}` },
    log: { kind: 'embedded', path: join(dir, 'hub', 'log') },
    sinks: [
      { name: 'duck', kind: 'duckdb', path: duckPath, schema: 'shop', flushMs: 100 },
      {
        name: 'snow', kind: 'snowflake', account: 'emulated', user: 'loader', auth: { kind: 'password', password: { env: 'TEST_SNOWFLAKE_PASSWORD' } },
        warehouse: 'WH', database: 'DB', schema: 'SHOP', accessUrl: emu.accessUrl, requestTimeoutMs: 10_000, flushMs: 100,
      },
      { name: 'pgdest', kind: 'postgres', host: '127.0.0.1', port: dstPg.port, database: 'dst', user: 'postgres', schema: 'dest', flushMs: 100 },
    ],
    pipelines: [{ name: 'main', agent: agentId, source: sourceId, sinks: ['duck', 'snow', 'pgdest'] }],
    security: { plaintext: true, adminTokens: [{ workspace: 'default', token: TEST_ADMIN_TOKEN }] },
    logLevel: 'info',
  };
  const path = join(dir, 'hub.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  const hub = new ManagedProcess('hub', ['hub', '--config', path], join(dir, 'hub.log'), { TEST_SNOWFLAKE_PASSWORD: 'emulator-password' });
  const dst = new pg.Pool({ connectionString: dstPg.connectionString('dst'), max: 1 });
  dst.on('error', () => undefined);
  hub.start();
  return {
    hub,
    grpcPort,
    httpPort,
    dst,
    dstPg,
    emu,
    duckPath,
    async close() {
      await hub.stop();
      hub.close();
      await dst.end();
      await emu.close();
      await dstPg.stop();
    },
  };
}

interface Pipelines {
  logHead: number;
  pipelines: { sinks: { name: string; offset: number; failing: boolean; lastError: string | null }[] }[];
}
interface Agents {
  agents: { connected: boolean; lastSeen: string; spool: { bytes: number } | null }[];
}

/**
 * Waits until everything the source committed (`caughtUp` says the agent has
 * it) is in the hub log and every sink has applied the whole log. Returns the
 * sinks' status (their last error, if any, for the "never stops" check).
 */
export async function settle(h: DriftHub, caughtUp: () => Promise<boolean>, dir: string, timeoutMs = 240_000): Promise<Pipelines['pipelines'][number]['sinks']> {
  await waitFor('the agent to read every change', caughtUp, timeoutMs, 250);
  const spooledAt = Date.now();
  let lastHead = -1;
  let last = '';
  let sinks: Pipelines['pipelines'][number]['sinks'] = [];
  await waitFor(
    'every sink to apply the whole log',
    async () => {
      const a = await httpJson<Agents>(h.httpPort, '/v1/agents');
      const drained = a.agents.some((x) => x.connected && x.spool?.bytes === 0 && Date.parse(x.lastSeen) > spooledAt + 1000);
      const p = await httpJson<Pipelines>(h.httpPort, '/v1/pipelines');
      sinks = p.pipelines[0]?.sinks ?? [];
      last = JSON.stringify({ sinks, head: p.logHead });
      const done = drained && p.logHead === lastHead && sinks.length === 3 && sinks.every((s) => s.offset >= p.logHead);
      lastHead = p.logHead;
      return done;
    },
    timeoutMs,
    1000,
  ).catch((e: unknown) => {
    throw new Error(`${String(e)}; sinks ${last}; logs in ${dir}`);
  });
  return sinks;
}

/** Rows as text (NULL as null), keyed by the first column. */
export type Rows = Map<string, (string | null)[]>;

const asText = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function keyed(rows: unknown[][]): Rows {
  return new Map(rows.map((r) => [String(r[0]), r.map(asText)]));
}

/** Per sink, the destination column each source column is read from. */
export type ColumnMap = (sink: 'pg' | 'duck' | 'snow', column: string) => string;

const pgQuote = (n: string): string => `"${n.replace(/"/g, '""')}"`;

/**
 * Stops the hub (DuckDB allows one writing process per file), reads
 * `columns` (and the row's source position) of `table` from all three
 * destinations, starts the hub again.
 */
export async function readDestinations(h: DriftHub, table: string, columns: readonly string[], map: ColumnMap): Promise<{ pg: Rows; duck: Rows; snow: Rows }> {
  await h.hub.stop();
  try {
    const sel = (sink: 'pg' | 'duck' | 'snow', meta: string) => [...columns.map((c) => `CAST(${pgQuote(map(sink, c))} AS VARCHAR)`), meta].join(', ');
    const pgRows = (await h.dst.query({ text: `SELECT ${sel('pg', '_tributary_lsn::text')} FROM dest.${pgQuote(table)}`, rowMode: 'array' })).rows as unknown[][];
    const instance = await DuckDBInstance.create(h.duckPath);
    const conn = await instance.connect();
    const duck = (await conn.runAndReadAll(`SELECT ${sel('duck', 'CAST(_tributary_lsn AS VARCHAR)')} FROM shop.${pgQuote(table)}`)).getRowsJson() as unknown[][];
    conn.closeSync();
    instance.closeSync();
    const snow = await h.emu.query(`SELECT ${sel('snow', 'CAST("_TRIBUTARY_LSN" AS VARCHAR)')} FROM "SHOP".${pgQuote(table.toUpperCase())}`);
    return { pg: keyed(pgRows), duck: keyed(duck), snow: keyed(snow) };
  } finally {
    h.hub.start();
  }
}

/** Differences between source rows and a destination's rows (first 5), empty when equal; `only` limits the rows compared. */
export function differences(source: Rows, dest: Rows, only?: (destRow: (string | null)[]) => boolean): string[] {
  const out: string[] = [];
  for (const [k, row] of source) {
    const d = dest.get(k);
    if (d === undefined) out.push(`row ${k} missing`);
    else if (only === undefined || only(d)) {
      const width = row.length;
      if (JSON.stringify(d.slice(0, width)) !== JSON.stringify(row)) out.push(`row ${k}: source ${JSON.stringify(row)} destination ${JSON.stringify(d.slice(0, width))}`);
    }
  }
  for (const k of dest.keys()) if (!source.has(k)) out.push(`row ${k} should not exist`);
  return out.slice(0, 5);
}
