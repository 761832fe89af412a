/**
 * End to end into the warehouse sinks through the real processes: a
 * PostgreSQL source, an agent, and a hub landing one pipeline in DuckDB, in
 * Snowflake (the local Snowflake EMULATOR, see test/support/snowflake-emulator)
 * and in a second PostgreSQL. kill -9 of the hub 10 times under a writer,
 * Snowflake and the destination PostgreSQL down for 15 s, and the whole log
 * replayed twice: each time every destination ends exactly equal to the
 * source (and, for the replays, untouched row by row).
 *
 * A third sink that can never connect pins the hub log so it is never
 * compacted, which is what lets the test replay it from offset 1.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startPostgres, type PgInstance } from '../support/postgres.js';
import { ManagedProcess, TEST_ADMIN_TOKEN, agentProcess, freePort, httpJson, tempDir, waitFor } from '../support/pipeline.js';
import { startSnowflakeEmulator, type SnowflakeEmulator } from '../support/snowflake-emulator/server.js';
import { WRITER_TABLE, randomBetween, startWriter } from '../support/writer.js';

const KILLS = 10;
let pgi: PgInstance;
let dstPg: PgInstance;
let src: pg.Pool;
let dst: pg.Pool;
let emu: SnowflakeEmulator;
let hub: ManagedProcess;
let agent: ManagedProcess;
let httpPort: number;
let dir: string;
let duckPath: string;
const slot = 'tributary_warehouse';

before(async () => {
  pgi = await startPostgres({ walLevel: 'logical' });
  await pgi.createDatabase('src');
  dstPg = await startPostgres();
  await dstPg.createDatabase('dst');
  dir = tempDir('warehouse');
  duckPath = join(dir, 'warehouse.duckdb');
  emu = await startSnowflakeEmulator({ dir: join(dir, 'snowflake'), user: 'loader', password: 'emulator-password' });
  const grpcPort = await freePort();
  httpPort = await freePort();
  const nowhere = await freePort();
  const config = {
    hubId: 'warehouse-hub',
    grpc: { listen: `127.0.0.1:${grpcPort}` },
    http: { listen: `127.0.0.1:${httpPort}` },
    log: { kind: 'embedded', path: join(dir, 'hub', 'log') },
    sinks: [
      { name: 'duck', kind: 'duckdb', path: duckPath, schema: 'shop' },
      {
        name: 'snow', kind: 'snowflake', account: 'emulated', user: 'loader', auth: { kind: 'password', password: { env: 'TEST_SNOWFLAKE_PASSWORD' } },
        warehouse: 'WH', database: 'DB', schema: 'SHOP', accessUrl: emu.accessUrl, requestTimeoutMs: 5000,
      },
      { name: 'pgdest', kind: 'postgres', host: '127.0.0.1', port: dstPg.port, database: 'dst', user: 'postgres', schema: 'dest' },
      { name: 'anchor', kind: 'postgres', host: '127.0.0.1', port: nowhere, database: 'none', user: 'none', schema: 'none' },
    ],
    pipelines: [{ name: 'main', agent: 'agent-1', source: 'src', sinks: ['duck', 'snow', 'pgdest', 'anchor'] }],
    security: { plaintext: true, adminTokens: [{ workspace: 'default', token: TEST_ADMIN_TOKEN }] },
    logLevel: 'info',
  };
  const path = join(dir, 'hub.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  hub = new ManagedProcess('hub', ['hub', '--config', path], join(dir, 'hub.log'), { TEST_SNOWFLAKE_PASSWORD: 'emulator-password' });
  agent = agentProcess({ dir: join(dir, 'agent'), hubPort: grpcPort, sourcePort: pgi.port, sourceDatabase: 'src', agentId: 'agent-1', sourceId: 'src', slot, batchEvents: 200 });
  src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 4 });
  src.on('error', () => undefined);
  dst = new pg.Pool({ connectionString: dstPg.connectionString('dst'), max: 1 });
  dst.on('error', () => undefined);
  hub.start();
  agent.start();
  await waitFor('the agent to stream', async () => (await src.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0]?.active === true);
  await src.query(WRITER_TABLE);
});

after(async () => {
  await agent?.stop();
  await hub?.stop();
  agent?.close();
  hub?.close();
  await src?.end();
  await dst?.end();
  await emu?.close();
  await pgi?.stop();
  await dstPg?.stop();
});

interface Agents {
  agents: { connected: boolean; lastSeen: string; spool: { bytes: number } | null }[];
}

interface Pipelines {
  logHead: number;
  pipelines: { sinks: { name: string; offset: number; lastError: string | null }[] }[];
}

/** Waits until the agent has shipped everything written and both warehouse sinks have applied the whole log. */
async function settled(timeoutMs = 180_000): Promise<void> {
  const wal = (await src.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn ?? '0/0';
  await waitFor('the slot to pass the last write', async () => (await src.query<{ ok: boolean }>('SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2', [wal, slot])).rows[0]?.ok === true, timeoutMs);
  const spooledAt = Date.now();
  let lastHead = -1;
  let last = '';
  await waitFor(
    'the warehouse sinks to apply the whole log',
    async () => {
      // Spooled is not yet in the hub: wait for a heartbeat, sent after everything was spooled, that shows an empty spool.
      const a = await httpJson<Agents>(httpPort, '/v1/agents');
      const drained = a.agents.some((x) => x.connected && x.spool?.bytes === 0 && Date.parse(x.lastSeen) > spooledAt + 1000);
      const p = await httpJson<Pipelines>(httpPort, '/v1/pipelines');
      const sinks = (p.pipelines[0]?.sinks ?? []).filter((s) => s.name !== 'anchor');
      last = JSON.stringify({ sinks, agents: a.agents, head: p.logHead });
      const done = drained && p.logHead === lastHead && sinks.every((s) => s.offset >= p.logHead);
      lastHead = p.logHead;
      return done;
    },
    timeoutMs,
    1000,
  ).catch((e: unknown) => {
    throw new Error(`${String(e)}; sinks ${last}; logs in ${dir}`);
  });
}

type Snapshot = { source: string[][]; duck: string[][]; snow: string[][]; pg: string[][] };

/** Stops the hub (DuckDB allows one process), reads all three sides, starts the hub again. */
async function snapshot(withMeta = false): Promise<Snapshot> {
  await hub.stop();
  try {
    const source = (await src.query({ text: 'SELECT id, v, note FROM churn ORDER BY id', rowMode: 'array' })).rows.map((r: unknown[]) => r.map(String));
    const instance = await DuckDBInstance.create(duckPath);
    const conn = await instance.connect();
    const meta = withMeta ? ', _tributary_lsn, _tributary_index, _tributary_op, _tributary_synced_at' : '';
    const duck = ((await conn.runAndReadAll(`SELECT id, v, note${meta} FROM shop.churn ORDER BY id`)).getRowsJson() as unknown[][]).map((r) => r.map(String));
    conn.closeSync();
    instance.closeSync();
    const smeta = withMeta ? ', "_TRIBUTARY_LSN"::VARCHAR, "_TRIBUTARY_INDEX"::VARCHAR, "_TRIBUTARY_OP", "_TRIBUTARY_SYNCED_AT"::VARCHAR' : '';
    const snow = (await emu.query(`SELECT "ID"::INTEGER, "V"::BIGINT, "NOTE"${smeta} FROM "SHOP"."CHURN" ORDER BY "ID"`)).map((r) => r.map(String));
    const pmeta = withMeta ? ', _tributary_lsn, _tributary_index, _tributary_op, _tributary_synced_at::text' : '';
    const pgRows = (await dst.query({ text: `SELECT id, v, note${pmeta} FROM dest.churn ORDER BY id`, rowMode: 'array' })).rows.map((r: unknown[]) => r.map(String));
    return { source, duck, snow, pg: pgRows };
  } finally {
    hub.start();
  }
}

function assertExact(s: Snapshot): void {
  assert.ok(s.source.length > 0, 'the writer wrote rows');
  assert.deepEqual(s.duck.map((r) => r.slice(0, 3)), s.source, 'DuckDB equals the source');
  assert.deepEqual(s.snow.map((r) => r.slice(0, 3)), s.source, 'Snowflake (emulated) equals the source');
  assert.deepEqual(s.pg.map((r) => r.slice(0, 3)), s.source, 'PostgreSQL equals the source');
}

test(`kill -9 the hub ${KILLS} times while it applies: DuckDB, Snowflake and PostgreSQL equal the source`, async () => {
  const writer = startWriter(src, { pauseMs: 2 });
  for (let i = 0; i < KILLS; i++) {
    await new Promise((r) => setTimeout(r, randomBetween(300, 1500)));
    await hub.kill9();
    await new Promise((r) => setTimeout(r, randomBetween(50, 400)));
    hub.start();
  }
  await writer.stop();
  await settled();
  assertExact(await snapshot());
});

test('Snowflake and the destination PostgreSQL unreachable for 15 s under load, then back: they catch up exactly', async () => {
  const writer = startWriter(src, { pauseMs: 2 });
  await new Promise((r) => setTimeout(r, 1000));
  await emu.pause();
  await dstPg.kill9();
  await new Promise((r) => setTimeout(r, 15_000));
  const p = await httpJson<Pipelines>(httpPort, '/v1/pipelines');
  const snow = p.pipelines[0]?.sinks.find((s) => s.name === 'snow');
  const pgSink = p.pipelines[0]?.sinks.find((s) => s.name === 'pgdest');
  assert.ok(snow?.lastError?.includes('Snowflake'), `the Snowflake sink reports the outage: ${snow?.lastError}`);
  assert.ok(pgSink?.lastError?.includes('unreachable'), `the PostgreSQL sink reports the outage: ${pgSink?.lastError}`);
  await emu.start();
  await dstPg.restart();
  await writer.stop();
  await settled();
  assertExact(await snapshot());
});

test('replaying the whole log twice leaves every destination unchanged, row by row', async () => {
  await settled();
  const before = await snapshot(true);
  assertExact(before);
  for (let i = 0; i < 2; i++) {
    await hub.stop();
    const instance = await DuckDBInstance.create(duckPath);
    const conn = await instance.connect();
    await conn.run(`UPDATE shop._tributary_offsets SET log_offset = 0`);
    conn.closeSync();
    instance.closeSync();
    await emu.query(`UPDATE "SHOP"."_TRIBUTARY_OFFSETS" SET "LOG_OFFSET" = 0`);
    await dst.query('UPDATE dest._tributary_offsets SET log_offset = 0');
    hub.start();
    await waitFor('the sinks to restart from offset 0', async () => {
      const p = await httpJson<Pipelines>(httpPort, '/v1/pipelines');
      return p.logHead > 0;
    });
    await settled();
    const again = await snapshot(true);
    assert.deepEqual(again.duck, before.duck, `DuckDB unchanged after replay ${i + 1}`);
    assert.deepEqual(again.snow, before.snow, `Snowflake unchanged after replay ${i + 1}`);
    assert.deepEqual(again.pg, before.pg, `PostgreSQL unchanged after replay ${i + 1}`);
  }
});
