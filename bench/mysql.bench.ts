/**
 * `npm run bench:mysql`: throughput of the MySQL/MariaDB source, with
 * `mariadb-binlog --read-from-remote-server` decoding the same binlog range in
 * the same run as the baseline.
 *
 *   1M single-row INSERT statements in 1000-row transactions, written while
 *   the agent is stopped, then drained: rows/s from the agent's start until the
 *   hub log (ingesting only) holds every row durably.
 *
 * Set BENCH_ROWS to scale the workload (default 1000000).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { binlogStreaming, startMySqlE2E, type MySqlE2E } from '../test/support/mysql-e2e.js';
import { apiFetch, waitFor } from '../test/support/pipeline.js';

const run = promisify(execFile);
const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const TX = 1000;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function ingested(e: MySqlE2E): Promise<number> {
  const text = await (await apiFetch(e.httpPort, '/metrics')).text();
  return Number(/tributary_hub_events_ingested_total\{source="agent-1\/shop"\} (\d+)/.exec(text)?.[1] ?? 0);
}

async function masterStatus(e: MySqlE2E): Promise<{ file: string; pos: number }> {
  const [rows] = await e.src.query('SHOW MASTER STATUS');
  const r = (rows as { File: string; Position: unknown }[])[0]!;
  return { file: r.File, pos: Number(r.Position) };
}

/** 1000 single-row INSERT statements per transaction, sent as one multi-statement query. */
async function workload(e: MySqlE2E): Promise<void> {
  for (let first = 1; first <= ROWS; first += TX) {
    const last = Math.min(ROWS, first + TX - 1);
    const parts = ['BEGIN'];
    for (let id = first; id <= last; id++) parts.push(`INSERT INTO bench VALUES (${id}, ${id * 7}, 'row ${id}')`);
    parts.push('COMMIT');
    await e.src.query(parts.join(';'));
  }
}

async function baseline(e: MySqlE2E, from: { file: string; pos: number }, to: { file: string; pos: number }): Promise<number> {
  if (from.file !== to.file) throw new Error(`the workload spans binlogs ${from.file}..${to.file}; raise max_binlog_size`);
  const t0 = performance.now();
  await run(
    'mariadb-binlog',
    [
      '--read-from-remote-server', '--host=127.0.0.1', `--port=${e.mdb.port}`, '--user=root',
      '--base64-output=DECODE-ROWS', '--verbose', `--start-position=${from.pos}`, `--stop-position=${to.pos}`, '--result-file=/dev/null', from.file,
    ],
    { maxBuffer: 1 << 20 },
  );
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const e = await startMySqlE2E({ name: 'mysql-bench', batchEvents: 2000, mariadbArgs: ['--max-binlog-size=1073741824', '--innodb-flush-log-at-trx-commit=2'] });
  try {
    await e.src.query('CREATE TABLE bench (id int PRIMARY KEY, v bigint NOT NULL, note varchar(40))');
    e.hubLogOnly.start();
    // A first run records the spool's start position, then the agent stops while the workload is written.
    e.agent.start();
    await binlogStreaming(e);
    await e.agent.stop();
    const from = await masterStatus(e);
    const w0 = performance.now();
    await workload(e);
    const writeSeconds = (performance.now() - w0) / 1000;
    const to = await masterStatus(e);
    e.agent.start();
    // Timed from the moment the agent streams (process start-up and pre-flight excluded).
    await binlogStreaming(e);
    const t0 = performance.now();
    await waitFor('the hub log to hold the workload', async () => (await ingested(e)) >= ROWS, 1_800_000, 20);
    const agentRate = ROWS / ((performance.now() - t0) / 1000);
    await e.agent.stop();
    await e.hubLogOnly.stop();
    const baseRate = ROWS / (await baseline(e, from, to));
    log(`insert: ${ROWS} single-row INSERT statements in ${Math.ceil(ROWS / TX)} transactions (written at ${(ROWS / writeSeconds).toFixed(0)} rows/s)`);
    log(`  mariadb-binlog (remote, decoded) ${baseRate.toFixed(0).padStart(8)} rows/s   (baseline, same binlog)`);
    log(`  agent → hub log (durable)        ${agentRate.toFixed(0).padStart(8)} rows/s   ${((100 * agentRate) / baseRate).toFixed(0)}% of mariadb-binlog`);
  } finally {
    await e.close();
  }
}

await main();
