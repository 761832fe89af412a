/**
 * `npm run bench`: end-to-end throughput, latency and memory of the
 * PostgreSQL pipeline, with pg_recvlogical (pgoutput) consuming the same WAL
 * in the same run as the baseline.
 *
 *   insert: 1M rows (100 transactions of 10k) written while the agent is
 *           stopped, then drained: rows/s into the hub log and into the
 *           PostgreSQL sink; pg_recvlogical reads the same WAL range.
 *   update: 200k rows updated (20 transactions of 10k), same measurements.
 *   large transaction: one transaction of 1M rows, same measurements.
 *   latency: a steady 5k rows/s for 20 s; commit → durable in the hub log.
 *
 * Set BENCH_ROWS to scale the insert workload (default 1000000).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromBinary } from '@bufbuild/protobuf';
import { open } from 'lmdb';
import { ChangeBatchSchema } from '../proto/gen/tributary/v1/change_pb.js';
import { startE2E, streaming, type E2E } from '../test/support/e2e.js';
import { apiFetch, waitFor } from '../test/support/pipeline.js';

const run = promisify(execFile);
const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const UPDATES = Math.min(200_000, ROWS);
const TX = 10_000;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function metric(e: E2E, name: string, labels: string): Promise<number> {
  const text = await (await apiFetch(e.httpPort, '/metrics')).text();
  const m = new RegExp(`^${name}\\{${labels.replace(/[/]/g, '\\/')}\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

interface Memory {
  /** Peak resident set (VmHWM), MB: includes LMDB's memory-mapped file pages. */
  peak: number;
  /** Highest private (anonymous) resident memory seen while sampling, MB. */
  anon: number;
}

function sampleMemory(pid: number | undefined, into: Memory): void {
  if (pid === undefined) return;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
    into.peak = Math.max(into.peak, kb('VmHWM'));
    into.anon = Math.max(into.anon, kb('RssAnon'));
  } catch {
    // The process exited between samples.
  }
}

function mem(m: Memory): string {
  return `peak ${m.peak.toFixed(0)} MB (private ${m.anon.toFixed(0)} MB)`;
}

async function currentLsn(e: E2E): Promise<string> {
  const r = await e.src.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return r.rows[0]?.lsn ?? '0/0';
}

async function slotActive(e: E2E): Promise<boolean> {
  const r = await e.src.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [e.slot]);
  return r.rows[0]?.active === true;
}

/**
 * Starts the agent against a hub that only ingests, and times the backlog of
 * `expected` events into the hub log, from the moment the agent streams.
 */
async function drainToLog(e: E2E, expected: number): Promise<{ rate: number; agent: Memory; hub: Memory }> {
  const agent: Memory = { peak: 0, anon: 0 };
  const hub: Memory = { peak: 0, anon: 0 };
  e.agent.start();
  await waitFor('the agent to stream', () => slotActive(e), 60_000, 5);
  const t0 = performance.now();
  await waitFor(
    'the hub log to hold the workload',
    async () => {
      sampleMemory(e.agent.pid, agent);
      sampleMemory(e.hubLogOnly.pid, hub);
      return (await metric(e, 'tributary_hub_events_ingested_total', 'source="agent-1/src"')) >= expected;
    },
    900_000,
    20,
  );
  return { rate: expected / ((performance.now() - t0) / 1000), agent, hub };
}

/** Restarts the hub with its sink and times applying `expected` events from its log. */
async function drainToSink(e: E2E, expected: number): Promise<{ rate: number; hub: Memory }> {
  const hub: Memory = { peak: 0, anon: 0 };
  await e.hubLogOnly.stop();
  e.hub.start();
  let t0 = 0;
  await waitFor(
    'the sink to apply the workload',
    async () => {
      sampleMemory(e.hub.pid, hub);
      const n = await metric(e, 'tributary_sink_events_applied_total', 'sink="dest"');
      if (n > 0 && t0 === 0) t0 = performance.now();
      return n >= expected;
    },
    1_800_000,
    50,
  );
  return { rate: expected / ((performance.now() - t0) / 1000), hub };
}

async function recvlogical(e: E2E, slot: string, endpos: string): Promise<number> {
  const t0 = performance.now();
  await run(join(e.pgi.binDir, 'pg_recvlogical'), [
    '-d', e.pgi.connectionString('src'), '--slot', slot, '--start', '--endpos', endpos,
    '-o', 'proto_version=1', '-o', `publication_names=${e.slot}`, '-f', '/dev/null', '--no-loop',
  ], { maxBuffer: 1 << 20 });
  return (performance.now() - t0) / 1000;
}

/**
 * Agent stopped, hub ingesting only: the workload's WAL waits in the slot.
 * First the agent's slot is let catch up (restart_lsn past the previous
 * phase), as a slot created just before the workload — the baseline's — is:
 * otherwise the agent's timing would include the server re-reading the
 * previous phase's WAL.
 */
async function quiesce(e: E2E): Promise<void> {
  const lsn = await currentLsn(e);
  await e.src.query('CHECKPOINT');
  await waitFor(
    "the agent's slot to move past the previous phase",
    async () => {
      const r = await e.src.query<{ ok: boolean }>('SELECT restart_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1', [e.slot, lsn]);
      return r.rows[0]?.ok === true;
    },
    60_000,
    200,
  ).catch(() => log('  (note: the slot did not catch up within 60 s; the next timing includes re-reading older WAL)'));
  await e.agent.stop();
  await e.hub.stop();
  await e.hubLogOnly.stop();
  e.hubLogOnly.start();
}

async function throughputPhase(e: E2E, name: string, rows: number, statements: readonly string[]): Promise<void> {
  await quiesce(e);
  await e.src.query("SELECT pg_create_logical_replication_slot('bench_baseline', 'pgoutput')");
  for (const sql of statements) await e.src.query(sql);
  const end = await currentLsn(e);
  const toLog = await drainToLog(e, rows);
  const baseSeconds = await recvlogical(e, 'bench_baseline', end);
  await e.src.query("SELECT pg_drop_replication_slot('bench_baseline')");
  const toSink = await drainToSink(e, rows);
  const base = rows / baseSeconds;
  log(`${name}: ${rows} rows in ${statements.length} transaction(s)`);
  log(`  pg_recvlogical (pgoutput)     ${base.toFixed(0).padStart(8)} rows/s   (baseline, same WAL)`);
  log(`  agent → hub log (durable)     ${toLog.rate.toFixed(0).padStart(8)} rows/s   ${((100 * toLog.rate) / base).toFixed(0)}% of pg_recvlogical`);
  log(`  hub log → PostgreSQL sink     ${toSink.rate.toFixed(0).padStart(8)} rows/s   (applied, durable)`);
  log(`  agent ${mem(toLog.agent)}; hub ingesting ${mem(toLog.hub)}; hub applying ${mem(toSink.hub)}`);
}

function batches(rows: number, sql: (from: number, to: number) => string): string[] {
  return Array.from({ length: Math.ceil(rows / TX) }, (_, i) => sql(i * TX + 1, Math.min(rows, (i + 1) * TX)));
}

async function latency(e: E2E): Promise<void> {
  const seconds = 20;
  const perTx = 100;
  // The log-only hub never compacts its log, so every entry can be read back afterwards.
  await e.hub.stop();
  e.hubLogOnly.start();
  await waitFor('the agent to reconnect', async () => {
    const r = await apiFetch(e.httpPort, '/v1/agents').catch(() => undefined);
    const body = r?.ok ? ((await r.json()) as { agents: { connected: boolean }[] }) : undefined;
    return body?.agents.some((a) => a.connected);
  });
  const start = performance.now();
  let sent = 0;
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * 5000);
    if (sent < due) {
      await e.src.query(`INSERT INTO latency (v) SELECT g FROM generate_series(1, ${perTx}) g`);
      sent += perTx;
    } else await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise((r) => setTimeout(r, 2000));
  await e.hubLogOnly.stop();
  const root = open({ path: join(e.dir, 'hub', 'log'), maxDbs: 8, compression: false, readOnly: true });
  const entries = root.openDB<{ bytes: Uint8Array; ingestedAtUs: number }, number>({ name: 'entries', encoding: 'msgpack' });
  const lat: number[] = [];
  for (const { value } of entries.getRange({})) {
    const batch = fromBinary(ChangeBatchSchema, value.bytes);
    for (const ev of batch.events) if (ev.table === 'latency') lat.push((value.ingestedAtUs - Number(ev.commitTimeUs)) / 1000);
  }
  await root.close();
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  log(`latency at a steady 5k rows/s for ${seconds} s (${lat.length} rows; commit → written to the hub log)`);
  log(`  p50 ${q(0.5).toFixed(1)} ms   p99 ${q(0.99).toFixed(1)} ms   max ${q(1).toFixed(1)} ms`);
}

const e = await startE2E({ name: 'bench', batchEvents: 2000 });
try {
  await e.src.query('CREATE TABLE rows (id bigint PRIMARY KEY, v int NOT NULL, label text NOT NULL, at timestamptz NOT NULL DEFAULT now())');
  await e.src.query('CREATE TABLE big (id bigint PRIMARY KEY, label text)');
  await e.src.query('CREATE TABLE latency (id bigserial PRIMARY KEY, v int)');
  e.hub.start();
  e.agent.start();
  await streaming(e);
  log(`machine: ${(await run('nproc')).stdout.trim()} cores; PostgreSQL from ${e.pgi.binDir}`);
  await throughputPhase(e, 'insert', ROWS, batches(ROWS, (a, b) => `INSERT INTO rows SELECT g, g % 1000, 'row-' || g, now() FROM generate_series(${a}, ${b}) g`));
  await throughputPhase(e, 'update', UPDATES, batches(UPDATES, (a, b) => `UPDATE rows SET v = v + 1 WHERE id BETWEEN ${a} AND ${b}`));
  // One transaction: spooled in pieces as it arrives, never held whole in memory.
  await throughputPhase(e, 'large transaction', ROWS, [`INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, ${ROWS}) g`]);
  await latency(e);
} finally {
  await e.close();
}
