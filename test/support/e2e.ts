/**
 * One private PostgreSQL holding a source database and a destination
 * database, plus a hub and an agent process wired to them.
 */
import pg from 'pg';
import { join } from 'node:path';
import { startPostgres, type PgInstance } from './postgres.js';
import { agentProcess, freePort, hubProcess, tempDir, waitFor, type ManagedProcess } from './pipeline.js';

export interface E2E {
  readonly pgi: PgInstance;
  readonly src: pg.Pool;
  readonly dst: pg.Pool;
  readonly hub: ManagedProcess;
  /** The same hub (same log) configured without sinks. */
  readonly hubLogOnly: ManagedProcess;
  readonly agent: ManagedProcess;
  readonly httpPort: number;
  readonly dir: string;
  readonly slot: string;
  close(): Promise<void>;
}

export interface E2EOptions {
  readonly name: string;
  readonly spoolMaxBytes?: number;
  readonly batchEvents?: number;
  readonly settings?: Record<string, string>;
  /** Fields merged into the agent's `source` section. */
  readonly source?: Record<string, unknown>;
}

export async function startE2E(o: E2EOptions): Promise<E2E> {
  const pgi = await startPostgres({ walLevel: 'logical', ...(o.settings ? { settings: o.settings } : {}) });
  await pgi.createDatabase('src');
  await pgi.createDatabase('dst');
  const dir = tempDir(o.name);
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const slot = `tributary_${o.name.replace(/[^a-z0-9_]/g, '_')}`;
  const hubSetup = { dir: join(dir, 'hub'), grpcPort, httpPort, sinkPort: pgi.port, sinkDatabase: 'dst', agentId: 'agent-1', sourceId: 'src' };
  const hub = hubProcess(hubSetup);
  const hubLogOnly = hubProcess({ ...hubSetup, withSink: false });
  const agent = agentProcess({
    dir: join(dir, 'agent'),
    hubPort: grpcPort,
    sourcePort: pgi.port,
    sourceDatabase: 'src',
    agentId: 'agent-1',
    sourceId: 'src',
    slot,
    ...(o.spoolMaxBytes !== undefined ? { spoolMaxBytes: o.spoolMaxBytes } : {}),
    ...(o.batchEvents !== undefined ? { batchEvents: o.batchEvents } : {}),
    ...(o.source !== undefined ? { source: o.source } : {}),
  });
  const src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 4 });
  const dst = new pg.Pool({ connectionString: pgi.connectionString('dst'), max: 2 });
  // Idle connections die when a test kills the server; the next query reconnects.
  src.on('error', () => undefined);
  dst.on('error', () => undefined);
  return {
    pgi,
    src,
    dst,
    hub,
    hubLogOnly,
    agent,
    httpPort,
    dir,
    slot,
    async close() {
      await agent.stop();
      await hub.stop();
      await hubLogOnly.stop();
      agent.close();
      hub.close();
      hubLogOnly.close();
      await src.end();
      await dst.end();
      await pgi.stop();
    },
  };
}

/** Rows of a table as text, ordered by `id`, for value-by-value comparison. */
export async function tableText(pool: pg.Pool, table: string, columns: readonly string[]): Promise<string[][]> {
  const cols = columns.map((c) => `${c}::text`).join(', ');
  const r = await pool.query({ text: `SELECT ${cols} FROM ${table} ORDER BY id`, rowMode: 'array' });
  return r.rows as string[][];
}

/** Waits until the destination table equals the source table. */
export async function converged(e: E2E, table: string, columns: readonly string[], timeoutMs = 120_000): Promise<void> {
  let last = '';
  await waitFor(
    `${table} to converge`,
    async () => {
      const [a, b] = await Promise.all([tableText(e.src, table, columns), tableText(e.dst, table, columns)]);
      const sa = JSON.stringify(a);
      const sb = JSON.stringify(b);
      last = `source ${a.length} rows, destination ${b.length} rows`;
      return sa === sb;
    },
    timeoutMs,
    250,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)} (${last}); logs in ${e.dir}`);
  });
}

export async function slotConfirmedFlush(e: E2E): Promise<bigint> {
  const r = await e.src.query<{ lsn: string }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [e.slot]);
  const text = r.rows[0]?.lsn ?? '0/0';
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/**
 * Waits until the agent streams from its slot. Changes committed before the
 * slot exists are not in the log (initial snapshots are a separate feature).
 */
export async function streaming(e: E2E): Promise<void> {
  await waitFor(
    'the agent to stream from its slot',
    async () => {
      const r = await e.src.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [e.slot]);
      return r.rows[0]?.active === true;
    },
    60_000,
  );
}
