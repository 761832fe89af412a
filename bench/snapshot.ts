/**
 * `npm run bench:snapshot`: incremental snapshot throughput into the hub log
 * while the stream keeps running, beside `\copy ... TO` of the same table in
 * the same run (psql, the fastest way to read a table out of PostgreSQL), and
 * the source's extra CPU while the snapshot runs at its ceiling (unlimited:
 * as fast as it goes), from /proc of the PostgreSQL server processes.
 *
 * Set BENCH_ROWS to scale the table (default 1000000), BENCH_CHUNK the
 * chunk size (default 10000), BENCH_CEILING the rows-per-second ceiling
 * (default 0, unlimited) and BENCH_TABLE the table: `narrow` (default: a
 * bigint key, an int, a short text and a timestamptz) or `wide` (15 columns
 * of an orders table: numeric, char, text, dates, timestamps, NULLs).
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromBinary } from '@bufbuild/protobuf';
import { open } from 'lmdb';
import pg from 'pg';
import { ChangeBatchSchema, Op } from '../proto/gen/tributary/v1/change_pb.js';
import { ChunkReader } from '../agent/sources/postgres/chunk-reader.js';
import { BinaryCopyOut } from '../agent/sources/postgres/copy-binary.js';
import type { ChunkKey, KeyedTable } from '../agent/snapshot/snapshot-source.js';
import { startE2E, type E2E } from '../test/support/e2e.js';
import { useCompiledBuild } from './compiled-build.js';
import { ManagedProcess, apiFetch, waitFor } from '../test/support/pipeline.js';

const run = promisify(execFile);
const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const CHUNK = Number(process.env['BENCH_CHUNK'] ?? 10_000);
/** `source.snapshot.maxRowsPerSecond` for the run; 0 = unlimited. */
const CEILING = Number(process.env['BENCH_CEILING'] ?? 0);
const CLOCK_TICKS = 100;
/** BENCH_TABLE: `narrow` (4 columns, the default) or `wide` (15 columns of an orders table: numeric, text, dates, nulls). */
const SHAPE = process.env['BENCH_TABLE'] === 'wide' ? 'wide' : 'narrow';

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function ingested(e: E2E): Promise<number> {
  const text = await (await apiFetch(e.httpPort, '/metrics')).text();
  const m = /^tributary_hub_events_ingested_total\{source="agent-1\/src"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** CPU seconds used so far by the postmaster and its children (backends, walsenders), per pid. */
function serverCpu(e: E2E): Map<number, number> {
  const postmaster = Number(readFileSync(join(e.pgi.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const out = new Map<number, number>();
  const add = (pid: number): void => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS);
    } catch {
      // exited between listing and reading
    }
  };
  add(postmaster);
  let children = '';
  try {
    children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8');
  } catch {
    // no children file on this kernel: the postmaster alone is counted
  }
  for (const c of children.trim().split(/\s+/).filter(Boolean)) add(Number(c));
  return out;
}

/** CPU seconds used so far by one process. */
function processCpu(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

function cpuDelta(a: Map<number, number>, b: Map<number, number>): number {
  let s = 0;
  for (const [pid, t] of b) s += t - (a.get(pid) ?? 0);
  return s;
}

function agentWith(e: E2E, snapshot: Record<string, unknown>): ManagedProcess {
  const dir = join(e.dir, 'agent');
  const config = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { source: Record<string, unknown> };
  config.source['snapshot'] = snapshot;
  const path = join(dir, 'agent-bench.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return new ManagedProcess('agent', ['agent', '--config', path], join(dir, 'agent.log'));
}

function snapshotLog(e: E2E, msg: string): Array<{ ts: string; rowsDone?: number; state?: string }> {
  return readFileSync(join(e.dir, 'agent', 'agent.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`) && l.includes('"table":"public.snap"'))
    .map((l) => JSON.parse(l) as { ts?: string; time?: string; rowsDone?: number; state?: string })
    .map((r) => ({ ...r, ts: r.time ?? r.ts ?? '' }));
}

/**
 * From the hub log (after the hub stopped): when the last snapshot row became
 * durable there (its `ingestedAtUs`), and commit → durable in the hub log for
 * the streamed table's rows committed between `fromMs` and `toMs`.
 */
async function readHubLog(e: E2E, fromMs: number, toMs: number): Promise<{ snapshotDurableMs: number; latency: string }> {
  const root = open({ path: join(e.dir, 'hub', 'log'), maxDbs: 8, compression: false, readOnly: true });
  const entries = root.openDB<{ bytes: Uint8Array; ingestedAtUs: number }, number>({ name: 'entries', encoding: 'msgpack' });
  const lat: number[] = [];
  let snapshotDurableMs = 0;
  for (const { value } of entries.getRange({})) {
    const batch = fromBinary(ChangeBatchSchema, value.bytes);
    for (const ev of batch.events) {
      if (ev.table === 'snap' && ev.op === Op.READ) snapshotDurableMs = Math.max(snapshotDurableMs, value.ingestedAtUs / 1000);
      const commitMs = Number(ev.commitTimeUs) / 1000;
      if (ev.table === 'stream' && ev.op !== Op.READ && commitMs >= fromMs && commitMs <= toMs) lat.push(value.ingestedAtUs / 1000 - commitMs);
    }
  }
  await root.close();
  lat.sort((a, b) => a - b);
  const q = (p: number): string => (lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN).toFixed(0);
  return { snapshotDurableMs, latency: `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms (${lat.length} rows)` };
}

const TABLE: KeyedTable = { kind: 'keyed', table: 'public.snap', keyColumns: ['id'], rowsEstimate: 0 };

/** Rows per second of the agent's chunk reader by itself, chunk after chunk over the whole table. */
async function readerAlone(e: E2E, binary: boolean): Promise<number> {
  const reader = new ChunkReader({ connectionString: e.pgi.connectionString('src') }, binary);
  try {
    const t0 = performance.now();
    let after: ChunkKey | null = null;
    let rows = 0;
    for (;;) {
      const c = await reader.read(TABLE, after, CHUNK);
      rows += c.ends.length / 2;
      if (c.ends.length / 2 < CHUNK || c.lastKey === null) break;
      after = c.lastKey;
    }
    return rows / ((performance.now() - t0) / 1000);
  } finally {
    await reader.close();
  }
}

/** Rows per second of the same keyset chunks as binary COPY, parsed but not converted. */
async function keysetCopy(e: E2E, rows: number, chunk: number): Promise<number> {
  const client = new pg.Client({ connectionString: e.pgi.connectionString('src') });
  await client.connect();
  try {
    const fields = Number((await client.query<{ n: string }>("SELECT count(*)::text AS n FROM information_schema.columns WHERE table_name = 'snap'")).rows[0]?.n);
    // ::text for numeric, as the chunk reader selects it
    const cols = (await client.query<{ c: string }>("SELECT string_agg(CASE WHEN data_type = 'numeric' THEN quote_ident(column_name) || '::text' ELSE quote_ident(column_name) END, ', ' ORDER BY ordinal_position) AS c FROM information_schema.columns WHERE table_name = 'snap'")).rows[0]?.c;
    const t0 = performance.now();
    for (let from = 0; from < rows; from += chunk) {
      const copy = new BinaryCopyOut(`COPY (SELECT ${cols} FROM snap WHERE id > ${from} ORDER BY id LIMIT ${chunk}) TO STDOUT (FORMAT binary)`, fields, () => undefined);
      void client.query(copy as unknown as pg.QueryConfig);
      await copy.done;
    }
    return rows / ((performance.now() - t0) / 1000);
  } finally {
    await client.end();
  }
}

const build = await useCompiledBuild();
const e = await startE2E({ name: 'bench_snapshot', batchEvents: 10_000 }); // the agent's defaults (spool.batchEvents, spool.batchBytes)
let agent: ManagedProcess | null = null;
try {
  log(`machine: ${(await run('nproc')).stdout.trim()} cores; PostgreSQL from ${e.pgi.binDir}; ${SHAPE} table of ${ROWS} rows, chunks of ${CHUNK}, ceiling ${CEILING === 0 ? 'none' : `${CEILING} rows/s`}; agent and hub: ${build}`);
  if (SHAPE === 'narrow') {
    await e.src.query('CREATE TABLE snap (id bigint PRIMARY KEY, v int NOT NULL, label text NOT NULL, at timestamptz NOT NULL)');
    await e.src.query(`INSERT INTO snap SELECT g, g % 1000, 'row-' || g, '2024-01-01'::timestamptz + g * interval '1 ms' FROM generate_series(1, ${ROWS}) g`);
  } else {
    await e.src.query(`CREATE TABLE snap (id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, amount numeric(12,2) NOT NULL,
      currency char(3) NOT NULL, quantity int NOT NULL, discount double precision, paid boolean NOT NULL, sku varchar(32) NOT NULL,
      email text, note text, region text NOT NULL, ship_date date, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)`);
    await e.src.query(`INSERT INTO snap SELECT g, g % 50000, (ARRAY['new','paid','shipped','returned'])[1 + g % 4], (g % 100000) / 100.0,
      'EUR', 1 + g % 9, CASE WHEN g % 3 = 0 THEN NULL ELSE (g % 17) / 100.0 END, g % 2 = 0, 'SKU-' || lpad((g % 100000)::text, 8, '0'),
      'customer' || (g % 50000) || '@example.com', CASE WHEN g % 5 = 0 THEN NULL ELSE 'delivery note for order ' || g || ', leave at the door' END,
      (ARRAY['eu-west','eu-north','us-east','ap-south'])[1 + g % 4], DATE '2024-01-01' + g % 365,
      TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1 second', TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1 second' + interval '5 minutes'
      FROM generate_series(1, ${ROWS}) g`);
  }
  await e.src.query('CREATE TABLE stream (id bigserial PRIMARY KEY, v int)');
  await e.src.query('VACUUM ANALYZE snap');

  // Baseline: \copy of the same table (the first run warms the cache as the snapshot will find it).
  const psql = join(e.pgi.binDir, 'psql');
  const copy = async (): Promise<number> => {
    const t0 = performance.now();
    await run(psql, ['-X', '-q', '-d', e.pgi.connectionString('src'), '-c', "\\copy snap TO '/dev/null'"]);
    return ROWS / ((performance.now() - t0) / 1000);
  };
  // Best of three, after a warm-up: the fastest \copy is the baseline (the ratio errs against the snapshot).
  await copy();
  const copyRate = Math.max(await copy(), await copy(), await copy());
  // Where a snapshot's time can go, on its own: PostgreSQL serving the keyset chunks (binary, nothing
  // converted), and the agent's chunk reader alone (no hub, no stream), in both formats.
  const keysetRate = await keysetCopy(e, ROWS, CHUNK);
  const readerRate = { binary: await readerAlone(e, true), text: await readerAlone(e, false) };

  e.hubLogOnly.start();
  // The stream keeps running: ~1000 inserts/s into another table for the whole measurement.
  let streaming = true;
  let streamed = 0;
  const writer = (async () => {
    while (streaming) {
      await e.src.query('INSERT INTO stream (v) SELECT g FROM generate_series(1, 10) g');
      streamed += 10;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  agent = agentWith(e, { initial: true, chunkRows: CHUNK, maxRowsPerSecond: CEILING });
  const idle0 = serverCpu(e);
  const idleT0 = performance.now();
  agent.start();
  await waitFor('the snapshot to start', () => snapshotLog(e, 'snapshot started').length > 0, 120_000, 20);
  const idleCpu = cpuDelta(idle0, serverCpu(e)) / ((performance.now() - idleT0) / 1000);
  const cpu0 = serverCpu(e);
  const agentCpu0 = processCpu(agent.pid);
  const hubCpu0 = processCpu(e.hubLogOnly.pid);
  const started = Date.parse(snapshotLog(e, 'snapshot started')[0]?.ts ?? '');
  // Polled slowly (the benchmark's own CPU is taken from the same two cores):
  // the times come from the agent's log and the hub log, not from the polls.
  await waitFor('the snapshot to end', () => snapshotLog(e, 'snapshot ended').length > 0, 1_800_000, 250);
  const cpu1 = serverCpu(e);
  const agentCpu = processCpu(agent.pid) - agentCpu0;
  const hubCpu = processCpu(e.hubLogOnly.pid) - hubCpu0;
  const ended = snapshotLog(e, 'snapshot ended')[0];
  const streamedAtEnd = streamed;
  // Everything the snapshot wrote, plus what the stream carried meanwhile, durable in the hub log.
  await waitFor('the hub log to hold the snapshot', async () => (await ingested(e)) >= (ended?.rowsDone ?? ROWS) + streamedAtEnd, 1_800_000, 250);
  streaming = false;
  await writer;
  await e.hubLogOnly.stop();
  const hubLog = await readHubLog(e, started, Date.parse(ended?.ts ?? ''));
  const seconds = (hubLog.snapshotDurableMs - started) / 1000;
  const rate = ROWS / seconds;
  const snapCpu = cpuDelta(cpu0, cpu1) / ((Date.parse(ended?.ts ?? '') - started) / 1000);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  log(`snapshot of ${ROWS} rows (state ${ended?.state}) while the stream carried ${streamedAtEnd} inserts; load average ${load}`);
  log(`  psql \\copy snap TO /dev/null       ${copyRate.toFixed(0).padStart(8)} rows/s   (baseline, same table, same run)`);
  log(`  snapshot → hub log (durable)      ${rate.toFixed(0).padStart(8)} rows/s   ${((100 * rate) / copyRate).toFixed(0)}% of \\copy  (${seconds.toFixed(1)} s)`);
  log(`  alone: PostgreSQL serving keyset chunks (binary COPY, no conversion) ${keysetRate.toFixed(0)} rows/s; the agent's chunk reader ${readerRate.binary.toFixed(0)} rows/s binary, ${readerRate.text.toFixed(0)} rows/s text`);
  const span = (Date.parse(ended?.ts ?? '') - started) / 1000;
  log(`  snapshot chunks read and durable in the agent's spool: ${(ROWS / span).toFixed(0)} rows/s (${span.toFixed(1)} s)`);
  log(`  while snapshotting: agent ${((100 * agentCpu) / span).toFixed(0)}% of a core, hub ${((100 * hubCpu) / span).toFixed(0)}% of a core (the agent's over its two threads)`);
  log(`  the stream's own latency meanwhile (commit → durable in the hub log): ${hubLog.latency}`);
  log(`  PostgreSQL CPU: ${(100 * idleCpu).toFixed(0)}% of a core streaming only, ${(100 * snapCpu).toFixed(0)}% while snapshotting (extra ${(100 * (snapCpu - idleCpu)).toFixed(0)}% of a core)`);
} finally {
  await agent?.stop();
  agent?.close();
  await e.close();
}
