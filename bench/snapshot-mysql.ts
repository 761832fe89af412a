/**
 * `npm run bench:snapshot:mysql`: incremental snapshot throughput of the
 * MySQL/MariaDB source into the hub log (ingesting only) while the binlog
 * keeps streaming, beside `mariadb --batch -e 'SELECT * FROM t'` (the
 * client's own tab-separated dump of the same table) and the same keyset
 * pages read by mysql2 in this process without conversion, in the same run,
 * and the source server's extra CPU while the snapshot runs.
 *
 *   A table of BENCH_ROWS rows (default 1000000; id int, v bigint, note
 *   varchar(40)) is read in chunks of BENCH_CHUNK rows (default 10000), at
 *   most BENCH_CEILING rows/s (default 0: no ceiling), with
 *   read-only watermarks (BENCH_MODE=signal: a signal table), while a writer
 *   commits about 50 small transactions per second to another table. Rows/s
 *   is counted from the agent's streaming start until the hub log holds
 *   every snapshot row. Extra CPU: mariadbd's CPU seconds during the
 *   snapshot minus its CPU seconds during as long a stretch with the writer
 *   alone, over the snapshot's wall time. Stream latency: each writer row
 *   carries its client time (µs); the hub log's ingest time of that row minus
 *   it, for rows written while the snapshot ran.
 */
import { spawn } from 'node:child_process';
import { fromBinary } from '@bufbuild/protobuf';
import { open } from 'lmdb';
import { ChangeBatchSchema, Op } from '../proto/gen/tributary/v1/change_pb.js';
import { decodeRow } from '../proto/tributary/v1/row-codec.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type mysql from 'mysql2/promise';
import { ChunkReader, openSnapshotConnection, type ChunkCursor } from '../agent/sources/mysql/snapshot-chunk.js';
import { readTableShape } from '../agent/sources/mysql/snapshot-shape.js';
import { binlogStreaming, startMySqlE2E, type MySqlE2E } from '../test/support/mysql-e2e.js';
import { apiFetch, waitFor } from '../test/support/pipeline.js';
import { useCompiledBuild } from './compiled-build.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const CHUNK = Number(process.env['BENCH_CHUNK'] ?? 10_000);
const MODE = process.env['BENCH_MODE'] === 'signal' ? 'signal' : 'read-only';
const CEILING = Number(process.env['BENCH_CEILING'] ?? 0);

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function ingested(e: MySqlE2E): Promise<number> {
  const text = await (await apiFetch(e.httpPort, '/metrics')).text();
  return Number(/tributary_hub_events_ingested_total\{source="agent-1\/shop"\} (\d+)/.exec(text)?.[1] ?? 0);
}

/** CPU seconds (user + system) of a process so far; 0 when it is gone. */
function processCpu(pid: number | string | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/** CPU seconds of the private mariadbd so far. */
function serverCpuSeconds(e: MySqlE2E): number {
  return processCpu(readFileSync(join(dirname(e.mdb.dataDir), 'mariadbd.pid'), 'utf8').trim());
}

/** ~50 single-row transactions per second on `side` (each row with its client time, µs), counting committed rows. */
function startWriter(c: mysql.Connection): { stop(): Promise<void>; rows(): number } {
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      await c.query('INSERT INTO side (v, at_us) VALUES (?, ?)', [n, String(BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)))]);
      n++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
    rows: () => n,
  };
}

/** Seconds for the mariadb client to print the whole table as tab-separated text. */
async function baseline(e: MySqlE2E): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('mariadb', ['--host=127.0.0.1', `--port=${e.mdb.port}`, '--user=root', '--batch', '--quick', '-e', 'SELECT * FROM shop.bench'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mariadb exited ${code}: ${err}`))));
  });
  return (performance.now() - t0) / 1000;
}

/** Seconds to read the table in keyset pages of CHUNK rows with mysql2 (the agent's own reader, values not converted). */
async function keysetPages(e: MySqlE2E): Promise<number> {
  const conn = await openSnapshotConnection({ host: e.mdb.host, port: e.mdb.port, user: 'root', password: undefined });
  try {
    const reader = new ChunkReader(await readTableShape(conn, 'shop', 'bench'));
    const t0 = performance.now();
    let cursor: ChunkCursor | null = null;
    for (;;) {
      const chunk = await reader.read(conn, cursor, CHUNK);
      if (chunk.rows.length === 0) break;
      cursor = chunk.last;
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await conn.end();
  }
}

/** Client write → durable in the hub log, for `side` rows written between `fromMs` and `toMs`. */
async function streamLatency(e: MySqlE2E, fromMs: number, toMs: number): Promise<string> {
  const root = open({ path: join(e.dir, 'hub', 'log'), maxDbs: 8, compression: false, readOnly: true });
  const entries = root.openDB<{ bytes: Uint8Array; ingestedAtUs: number }, number>({ name: 'entries', encoding: 'msgpack' });
  const lat: number[] = [];
  for (const { value } of entries.getRange({})) {
    for (const ev of fromBinary(ChangeBatchSchema, value.bytes).events) {
      if (ev.table !== 'side' || ev.op !== Op.INSERT) continue;
      const at = decodeRow(ev.after)[2];
      const writtenMs = Number(at) / 1000;
      if (writtenMs >= fromMs && writtenMs <= toMs) lat.push(value.ingestedAtUs / 1000 - writtenMs);
    }
  }
  await root.close();
  lat.sort((a, b) => a - b);
  const q = (p: number): string => (lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN).toFixed(0);
  return `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms (${lat.length} rows)`;
}

async function main(): Promise<void> {
  const build = await useCompiledBuild();
  const e = await startMySqlE2E({ name: 'mysql-snapshot-bench', batchEvents: 10_000 /* the agent's default */, mariadbArgs: ['--innodb-flush-log-at-trx-commit=2', '--innodb-buffer-pool-size=512M'] });
  try {
    await e.src.query('CREATE TABLE bench (id int PRIMARY KEY, v bigint NOT NULL, note varchar(40))');
    await e.src.query('CREATE TABLE side (id int AUTO_INCREMENT PRIMARY KEY, v int, at_us bigint)');
    await e.src.query('SET SESSION max_recursive_iterations = 100000000');
    for (let first = 1; first <= ROWS; first += 100_000) {
      const last = Math.min(ROWS, first + 99_999);
      await e.src.query(`INSERT INTO bench WITH RECURSIVE g(n) AS (SELECT ${first} UNION ALL SELECT n + 1 FROM g WHERE n < ${last}) SELECT n, n * 7, CONCAT('row ', n) FROM g`);
    }
    await e.src.query('ANALYZE TABLE bench');
    // Warm the buffer pool once so neither side pays for the first read from disk.
    await baseline(e);
    const baseSeconds = await baseline(e);
    const pagesSeconds = await keysetPages(e);
    if (MODE === 'signal')
      await e.mdb.exec('CREATE DATABASE tributary', 'CREATE TABLE tributary.signal (id varchar(64) PRIMARY KEY)', "GRANT INSERT, DELETE ON tributary.signal TO 'tributary'@'%'");
    const snapshot = { initial: true, chunkRows: CHUNK, maxRowsPerSecond: CEILING, ...(MODE === 'signal' ? { signalTable: 'tributary.signal' } : {}) };
    const agent = e.agentWith({ tables: ['shop.bench', 'shop.side'], snapshot }, 'agent-bench');
    e.hubLogOnly.start();
    const writerConn = await e.mdb.connect('shop');
    const writer = startWriter(writerConn);
    // The writer alone, for the CPU baseline.
    const idle0 = serverCpuSeconds(e);
    await new Promise((r) => setTimeout(r, 5000));
    const idlePerSecond = (serverCpuSeconds(e) - idle0) / 5;
    const before = await ingested(e);
    const sideBefore = writer.rows();
    agent.start();
    await binlogStreaming(e);
    const t0 = performance.now();
    const wall0 = Date.now();
    const cpu0 = serverCpuSeconds(e);
    const agentCpu0 = processCpu(agent.pid);
    const hubCpu0 = processCpu(e.hubLogOnly.pid);
    await waitFor('the hub log to hold every snapshot row', async () => (await ingested(e)) - before - (writer.rows() - sideBefore) >= ROWS, 1_800_000, 20);
    const seconds = (performance.now() - t0) / 1000;
    const wall1 = Date.now();
    const extraCpu = (serverCpuSeconds(e) - cpu0 - idlePerSecond * seconds) / seconds;
    const agentCpu = (processCpu(agent.pid) - agentCpu0) / seconds;
    const hubCpu = (processCpu(e.hubLogOnly.pid) - hubCpu0) / seconds;
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    await writer.stop();
    await writerConn.end();
    await agent.stop();
    agent.close();
    await e.hubLogOnly.stop();
    const latency = await streamLatency(e, wall0, wall1);
    const rate = ROWS / seconds;
    const baseRate = ROWS / baseSeconds;
    log(`snapshot: ${ROWS} rows in chunks of ${CHUNK}, ${MODE} watermarks, ceiling ${CEILING === 0 ? 'none' : `${CEILING} rows/s`}, streaming ${writer.rows() - sideBefore} writer rows meanwhile; agent and hub: ${build}`);
    log(`  mariadb --batch SELECT *       ${baseRate.toFixed(0).padStart(8)} rows/s   (baseline, same table)`);
    log(`  mysql2 keyset pages (no conv.) ${(ROWS / pagesSeconds).toFixed(0).padStart(8)} rows/s   (in process, same chunks)`);
    log(`  agent → hub log (durable)      ${rate.toFixed(0).padStart(8)} rows/s   ${((100 * rate) / baseRate).toFixed(0)}% of the baseline`);
    log(`  mariadbd extra CPU while the snapshot ran: ${(extraCpu * 100).toFixed(0)}% of one core (writer alone: ${(idlePerSecond * 100).toFixed(0)}%)`);
    log(`  the stream's own latency meanwhile (write → durable in the hub log): ${latency}`);
    log(`  agent CPU ${(agentCpu * 100).toFixed(0)}%, hub CPU ${(hubCpu * 100).toFixed(0)}% of one core; load average ${load}`);
  } finally {
    await e.close();
  }
}

await main();
