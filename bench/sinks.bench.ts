/**
 * `npm run bench:sinks`: the warehouse sinks against each warehouse's own bulk
 * path, in one run, on the same rows:
 *   1. rows/s of DuckDbSink.write (stage + MERGE + offset, durable) beside
 *      DuckDB's appender into a plain table;
 *   2. rows/s of PostgresSink.write beside PostgreSQL COPY (psql \copy) of the
 *      same rows;
 *   3. commit -> queryable latency at a steady 5,000 rows/s through the whole
 *      pipeline (PostgreSQL source, agent, hub, DuckDB and PostgreSQL sinks),
 *      observed by polling each destination every 25 ms.
 * BENCH_SINK_ROWS (default 200000) sets the size of 1 and 2; BENCH_LATENCY_S
 * (default 20) the length of 3.
 */
import { DuckDBInstance, DuckDBTimestampTZValue } from '@duckdb/node-api';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { parseAgentConfig } from '../agent/config.js';
import { createLogger as agentLogger } from '../agent/log.js';
import { runAgent } from '../agent/main.js';
import { parseHubConfig } from '../hub/config.js';
import { createLogger as hubLogger } from '../hub/log.js';
import { startHub } from '../hub/main.js';
import { DuckDbSink } from '../hub/sinks/duckdb/sink.js';
import { PostgresSink } from '../hub/sinks/postgres/sink.js';
import type { SinkBatch, SinkChange } from '../hub/sinks/sink.js';
import { ValueKind } from '../proto/gen/tributary/v1/change_pb.js';
import { startPostgres } from '../test/support/postgres.js';
import { freePort, tempDir } from '../test/support/pipeline.js';
import { col, table } from '../test/sinks/changes.js';

const ROWS = Number(process.env['BENCH_SINK_ROWS'] ?? 200_000);
const LATENCY_S = Number(process.env['BENCH_LATENCY_S'] ?? 20);
const BATCH = 20_000;
const signal = new AbortController().signal;
const run = promisify(execFile);

const schema = table('bench_rows', [
  col('id', ValueKind.INT64, 'bigint', { key: true }),
  col('a', ValueKind.INT32, 'integer'),
  col('b', ValueKind.TEXT, 'text'),
  col('c', ValueKind.DECIMAL, 'numeric(12,2)'),
  col('d', ValueKind.TIMESTAMPTZ, 'timestamp with time zone'),
]);
const T0 = 1_700_000_000_000_000;

function batches(): SinkBatch[] {
  const out: SinkBatch[] = [];
  for (let start = 0; start < ROWS; start += BATCH) {
    const changes: SinkChange[] = [];
    for (let i = start; i < Math.min(ROWS, start + BATCH); i++) {
      changes.push({
        sourceKey: 'bench/src', op: 'insert', schema, key: [BigInt(i)], before: null,
        after: [BigInt(i), BigInt(i % 1000), `row ${i} ${'x'.repeat(20)}`, { kind: 'decimal', text: `${i % 100000}.${String(i % 100).padStart(2, '0')}` }, { kind: 'timestamptz', micros: T0 + i }],
        position: { commit: BigInt(1000 + i), index: 0 }, commitTimeUs: BigInt(T0 + i), txid: BigInt(i),
      });
    }
    out.push({ changes, lastOffset: BigInt(out.length + 1) });
  }
  return out;
}

const rate = (rows: number, ms: number) => `${Math.round(rows / (ms / 1000)).toString().padStart(9)} rows/s`;

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function duckdbThroughput(dir: string, data: SinkBatch[]): Promise<void> {
  const sinkPath = join(dir, 'sink.duckdb');
  const sink = new DuckDbSink({ name: 'bench', path: sinkPath, schema: 'dest' });
  await sink.open(signal);
  const viaSink = await timed(async () => {
    for (const b of data) await sink.write(b, signal);
  });
  await sink[Symbol.asyncDispose]();
  const inst = await DuckDBInstance.create(join(dir, 'appender.duckdb'));
  const conn = await inst.connect();
  await conn.run('CREATE TABLE bench_rows (id BIGINT, a INTEGER, b VARCHAR, c DECIMAL(12,2), d TIMESTAMPTZ)');
  const viaAppender = await timed(async () => {
    const ap = await conn.createAppender('bench_rows');
    for (const b of data) {
      for (const ch of b.changes) {
        const r = ch.after as [bigint, bigint, string, { text: string }, { micros: number }];
        ap.appendBigInt(r[0]);
        ap.appendInteger(Number(r[1]));
        ap.appendVarchar(r[2]);
        ap.appendVarchar(r[3].text);
        ap.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(r[4].micros)));
        ap.endRow();
      }
    }
    ap.closeSync();
    await conn.run('CHECKPOINT');
  });
  conn.closeSync();
  inst.closeSync();
  process.stdout.write(`DuckDB, ${ROWS} rows (inserts, batches of ${BATCH})\n  appender (bulk baseline)      ${rate(ROWS, viaAppender)}\n  DuckDbSink (merge, durable)   ${rate(ROWS, viaSink)}   ${Math.round((100 * viaAppender) / viaSink)}% of the appender\n`);
}

async function postgresThroughput(dir: string, data: SinkBatch[]): Promise<void> {
  const pgi = await startPostgres({ walLevel: 'replica' });
  try {
    await pgi.createDatabase('dst');
    const sink = new PostgresSink({ name: 'bench', connectionString: pgi.connectionString('dst'), schema: 'dest' });
    await sink.open(signal);
    const viaSink = await timed(async () => {
      for (const b of data) await sink.write(b, signal);
    });
    await sink[Symbol.asyncDispose]();
    const file = join(dir, 'rows.tsv');
    writeFileSync(file, data.flatMap((b) => b.changes.map((ch) => {
      const r = ch.after as [bigint, bigint, string, { text: string }, { micros: number }];
      return `${r[0]}\t${r[1]}\t${r[2]}\t${r[3].text}\t${new Date(r[4].micros / 1000).toISOString()}\n`;
    })).join(''));
    const client = new pg.Client({ connectionString: pgi.connectionString('dst') });
    await client.connect();
    await client.query('CREATE TABLE copy_rows (id bigint PRIMARY KEY, a integer, b text, c numeric(12,2), d timestamptz)');
    await client.end();
    const viaCopy = await timed(async () => {
      await run(join(pgi.binDir, 'psql'), [pgi.connectionString('dst'), '-v', 'ON_ERROR_STOP=1', '-c', `\\copy copy_rows FROM '${file}'`]);
    });
    process.stdout.write(`PostgreSQL, ${ROWS} rows (inserts, batches of ${BATCH})\n  COPY (bulk baseline)          ${rate(ROWS, viaCopy)}\n  PostgresSink (upsert, durable)${rate(ROWS, viaSink)}   ${Math.round((100 * viaCopy) / viaSink)}% of COPY\n`);
  } finally {
    await pgi.stop();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function latency(dir: string): Promise<void> {
  const pgi = await startPostgres({ walLevel: 'logical' });
  const duckPath = join(dir, 'latency.duckdb');
  const stopAgent = new AbortController();
  try {
    await pgi.createDatabase('src');
    await pgi.createDatabase('dst');
    const hubConfig = parseHubConfig({
      grpc: { listen: `127.0.0.1:${await freePort()}` }, http: { listen: `127.0.0.1:${await freePort()}` }, log: { kind: 'embedded', path: join(dir, 'hub-log') },
      sinks: [
        { name: 'duck', kind: 'duckdb', path: duckPath, schema: 'dest' },
        { name: 'pg', kind: 'postgres', port: pgi.port, database: 'dst', user: 'postgres', schema: 'dest' },
      ],
      pipelines: [{ name: 'p', agent: 'bench-agent', source: 'src', sinks: ['duck', 'pg'] }], logLevel: 'error',
      // Agent and hub share this process on loopback: the development plaintext channel, so the figures are the sinks'.
      security: { plaintext: true, path: join(dir, 'hub-security') },
    }, {});
    const hub = await startHub(hubConfig, hubLogger('error', { process: 'hub' }));
    const agentConfig = parseAgentConfig({
      agentId: 'bench-agent', hub: { address: hubConfig.grpc.listen, plaintext: true }, spool: { path: join(dir, 'spool') },
      source: { kind: 'postgres', id: 'src', port: pgi.port, database: 'src', user: 'postgres', slot: 'bench_latency', publication: 'bench_latency' }, logLevel: 'error',
    }, {});
    const agent = runAgent(agentConfig, agentLogger('error', { process: 'agent' }), stopAgent.signal);
    const src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 2 });
    const dst = new pg.Pool({ connectionString: pgi.connectionString('dst'), max: 1 });
    // Idle connections die when the cluster stops at the end; that is not an error of the run.
    src.on('error', () => undefined);
    dst.on('error', () => undefined);
    for (let i = 0; ; i++) {
      if ((await src.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'bench_latency'")).rows[0]?.active === true) break;
      if (i > 600) throw new Error('the agent did not stream within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    await src.query('CREATE TABLE lat (id bigint PRIMARY KEY, payload text)');
    const duck = await (await DuckDBInstance.fromCache(duckPath)).connect();
    const commits: { id: number; at: number }[] = [];
    const seen = { duck: new Map<number, number>(), pg: new Map<number, number>() };
    let writing = true;
    let maxId = 0;
    // 100 rows every 20 ms = 5,000 rows/s, each transaction's commit time taken when COMMIT returns.
    const writer = (async () => {
      const start = performance.now();
      let tick = 0;
      while (writing) {
        const from = maxId + 1;
        maxId += 100;
        await src.query("INSERT INTO lat SELECT g, 'payload ' || g FROM generate_series($1::bigint, $2::bigint) g", [from, maxId]);
        commits.push({ id: maxId, at: Date.now() });
        tick++;
        const wait = start + tick * 20 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
    const poll = async (name: 'duck' | 'pg', read: () => Promise<number>) => {
      while (writing || (seen[name].size < commits.length && Date.now() - (commits[commits.length - 1]?.at ?? 0) < 30_000)) {
        const visible = await read().catch(() => 0);
        const now = Date.now();
        for (const c of commits) if (c.id <= visible && !seen[name].has(c.id)) seen[name].set(c.id, now);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const pollers = [
      poll('duck', async () => Number((await duck.runAndReadAll('SELECT coalesce(max(id), 0) FROM dest.lat')).getRows()[0]?.[0] ?? 0)),
      poll('pg', async () => Number((await dst.query<{ m: string }>('SELECT coalesce(max(id), 0) AS m FROM dest.lat')).rows[0]?.m ?? 0)),
    ];
    await new Promise((r) => setTimeout(r, LATENCY_S * 1000));
    writing = false;
    await writer;
    await Promise.all(pollers);
    process.stdout.write(`latency at a target of 5,000 rows/s for ${LATENCY_S} s (${maxId} rows in ${commits.length} transactions = ${Math.round(maxId / LATENCY_S)} rows/s achieved; source commit -> visible to a query, polled every 25 ms)\n`);
    for (const name of ['duck', 'pg'] as const) {
      const lat = commits.map((c) => (seen[name].get(c.id) ?? NaN) - c.at).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
      const missing = commits.length - lat.length;
      process.stdout.write(`  ${name === 'duck' ? 'DuckDB    ' : 'PostgreSQL'}  p50 ${percentile(lat, 50)} ms   p99 ${percentile(lat, 99)} ms   max ${lat[lat.length - 1]} ms${missing > 0 ? `   (${missing} transactions never seen!)` : ''}   target p99 <= 2000 ms\n`);
    }
    duck.closeSync();
    stopAgent.abort();
    await agent.catch(() => undefined);
    // A sink still applying a backlog finishes its current batch first; do not wait for ever.
    await Promise.race([hub.stop(), new Promise((r) => setTimeout(r, 30_000))]);
    await src.end();
    await dst.end();
  } finally {
    stopAgent.abort();
    await pgi.stop();
  }
}

const dir = tempDir('bench-sinks');
try {
  const data = batches();
  await duckdbThroughput(dir, data);
  await postgresThroughput(dir, data);
  await latency(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
