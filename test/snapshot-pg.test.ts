/**
 * Incremental snapshots from PostgreSQL (DBLog watermarks) end to end: real
 * PostgreSQL, real hub and agent processes. A writer inserts, updates and
 * deletes the very rows being chunked while the agent is killed with -9
 * again and again mid-snapshot; afterwards the destination equals the source
 * row for row (so no deleted row came back and no stale version won). A table
 * of a million rows with a composite key is snapshotted under churn too.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { converged, startE2E, type E2E } from './support/e2e.js';
import { ManagedProcess, apiFetch, waitFor } from './support/pipeline.js';
import { WRITER_COLUMNS, WRITER_TABLE, randomBetween, startWriter } from './support/writer.js';
import { COLUMNS, DDL, ROWS } from './support/pg-type-corpus.js';

let e: E2E;
const KILLS = 10;
const CHURN_ROWS = 20_000;
const BIG_ROWS = 1_000_000;

/** An agent on the test's spool and slot with `source.snapshot` set. */
function agentWith(name: string, snapshot: Record<string, unknown>): ManagedProcess {
  const dir = join(e.dir, 'agent');
  const config = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { source: Record<string, unknown> };
  config.source['snapshot'] = snapshot;
  const path = join(dir, `agent-${name}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return new ManagedProcess('agent', ['agent', '--config', path], join(dir, 'agent.log'));
}

function agentLog(): string {
  return readFileSync(join(e.dir, 'agent', 'agent.log'), 'utf8');
}

/** Log records of the agent with this message, parsed. */
function logRecords(msg: string): Array<Record<string, unknown>> {
  return agentLog()
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Count and an order-independent checksum of a table's rows (these columns) as text. */
async function fingerprint(pool: E2E['src'], table: string, columns: string): Promise<string> {
  const r = await pool.query<{ n: string; h: string }>(`SELECT count(*)::text AS n, coalesce(sum(hashtext((${columns})::text)::bigint), 0)::text AS h FROM ${table}`);
  return `${r.rows[0]?.n}/${r.rows[0]?.h}`;
}

before(async () => {
  e = await startE2E({ name: 'snapshot_pg', batchEvents: 2000 });
  await e.src.query(WRITER_TABLE);
  await e.src.query(`INSERT INTO churn SELECT g, g, md5(g::text) FROM generate_series(0, ${CHURN_ROWS - 1}) g`);
  await e.src.query('CREATE TABLE nopk (a int, b text)');
  await e.src.query("INSERT INTO nopk VALUES (1, 'x'), (2, 'y')");
  // Loaded before the agent's slot exists: only the snapshot can bring these rows.
  await e.src.query('CREATE TABLE zz_big (a int, b int, payload text, n numeric(12,2), at timestamptz, PRIMARY KEY (a, b))');
  await e.src.query(
    `INSERT INTO zz_big SELECT g / 1000, g % 1000, md5(g::text), (g % 100000) / 7.0, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(0, ${BIG_ROWS - 1}) g`,
  );
  e.hub.start();
});

after(async () => {
  await e?.close();
});

test(`initial snapshot under churn, agent killed -9 ${KILLS} times mid-snapshot: destination equals source`, async () => {
  // Throttled so the snapshot outlasts the kills; small chunks so several complete between them.
  const settings = { initial: true, chunkRows: 250, maxRowsPerSecond: 1000 };
  const churnStarts = (): Array<Record<string, unknown>> => logRecords('snapshot started').filter((r) => r['table'] === 'public.churn');
  let agent = agentWith('throttled', settings);
  agent.start();
  await waitFor('the snapshot to start', () => churnStarts().length > 0, 120_000);
  const writer = startWriter(e.src, { keys: CHURN_ROWS + 2000, pauseMs: 1 });
  for (let i = 0; i < KILLS; i++) {
    // Each kill lands while this agent is snapshotting (it logged its start), at a random point.
    const seen = churnStarts().length;
    await waitFor(`agent #${i + 1} to snapshot`, () => churnStarts().length > seen || i === 0, 120_000, 50);
    await new Promise((r) => setTimeout(r, randomBetween(300, 1200)));
    assert.ok(!logRecords('snapshot ended').some((r) => r['table'] === 'public.churn'), `the snapshot was still running at kill ${i + 1}`);
    await agent.kill9();
    agent = agentWith('throttled', settings);
    agent.start();
  }
  await waitFor('the churn snapshot to finish', () => logRecords('snapshot ended').some((r) => r['table'] === 'public.churn' && r['state'] === 'done'), 240_000, 500);
  await writer.stop();
  await converged(e, 'churn', WRITER_COLUMNS, 180_000);
  const starts = logRecords('snapshot started').filter((r) => r['table'] === 'public.churn');
  assert.equal(starts.length, KILLS + 1, 'every agent killed mid-snapshot resumed it');
  const resumed = starts.filter((r) => Number(r['rowsDone']) > 0);
  assert.ok(resumed.length >= KILLS - 1, `restarts resumed after the last durable chunk, not from the first key (${resumed.length} of ${starts.length})`);
  const rowsDone = resumed.map((r) => Number(r['rowsDone']));
  assert.deepEqual(rowsDone, [...rowsDone].sort((a, b) => a - b), 'progress never went backwards across restarts');
  // The table without a primary key is not snapshotted, loudly (README: "Tables without a primary key").
  await waitFor('the nopk table to be refused', () => agentLog().includes('table has no primary key: not snapshotted'), 60_000);
  const dst = await e.dst.query<{ n: string }>("SELECT count(*)::text AS n FROM information_schema.tables WHERE table_name = 'nopk'");
  assert.equal(dst.rows[0]?.n, '0', 'nothing of the table without a key reached the destination');
  await agent.stop();
  agent.close();
});

test(`a ${BIG_ROWS.toLocaleString('en')}-row table with a composite key, under churn and one kill -9: destination equals source`, async () => {
  // The throttled agent of the test before may have begun this table: this one resumes it.
  let agent = agentWith('fast', { initial: true, chunkRows: 10_000 });
  agent.start();
  let stop = false;
  let changes = 0;
  const churn = (async () => {
    while (!stop) {
      const a = randomBetween(0, 1000);
      const b = randomBetween(0, 1000);
      const op = randomBetween(0, 3);
      if (op === 0) await e.src.query('DELETE FROM zz_big WHERE a = $1 AND b = $2', [a, b]);
      else if (op === 1) await e.src.query("UPDATE zz_big SET payload = 'updated', n = n + 1 WHERE a = $1 AND b BETWEEN $2 AND $2 + 20", [a, b]);
      else await e.src.query("INSERT INTO zz_big VALUES ($1, $2 + 1000, 'new', 1, now()) ON CONFLICT (a, b) DO UPDATE SET payload = 'upserted'", [a, b]);
      changes++;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const startsBefore = logRecords('snapshot started').filter((r) => r['table'] === 'public.zz_big').length;
  await waitFor('the big snapshot to be under way', () => logRecords('snapshot started').filter((r) => r['table'] === 'public.zz_big').length > startsBefore, 120_000);
  await new Promise((r) => setTimeout(r, randomBetween(3000, 6000)));
  await agent.kill9();
  agent = agentWith('fast', { initial: true, chunkRows: 10_000 });
  agent.start();
  await waitFor('the big snapshot to finish', () => logRecords('snapshot ended').some((r) => r['table'] === 'public.zz_big' && r['state'] === 'done'), 600_000, 1000);
  stop = true;
  await churn;
  assert.ok(changes > 100, `the writer changed rows during the snapshot (${changes})`);
  const last = logRecords('snapshot started').filter((r) => r['table'] === 'public.zz_big').at(-1);
  assert.ok(Number(last?.['rowsDone']) > 0, 'the restarted agent resumed the table after its last durable chunk');
  const columns = 'a, b, payload, n, at';
  const want = await fingerprint(e.src, 'zz_big', columns);
  let got = '';
  await waitFor('zz_big to converge', async () => (got = await fingerprint(e.dst, 'zz_big', columns)) === want, 300_000, 1000).catch((err: unknown) => {
    throw new Error(`${String(err)}: source ${want}, destination ${got}; logs in ${e.dir}`);
  });
  await agent.stop();
  agent.close();
});

test('watermarks through a signal table: the snapshot lands, the signal rows never do; a re-backfill through the hub API', async () => {
  await e.src.query('CREATE TABLE tributary_signal (id text PRIMARY KEY, at timestamptz DEFAULT now())');
  await e.src.query('CREATE TABLE sig_t (id int PRIMARY KEY, v text)');
  await e.src.query("INSERT INTO sig_t SELECT g, 'v' || g FROM generate_series(1, 5000) g");
  const agent = agentWith('signal', { initial: true, chunkRows: 1000, signalTable: 'public.tributary_signal' });
  agent.start();
  await waitFor('the sig_t snapshot to finish', () => logRecords('snapshot ended').some((r) => r['table'] === 'public.sig_t' && r['state'] === 'done'), 180_000, 500);
  await converged(e, 'sig_t', ['id', 'v']);
  const signals = await e.src.query<{ n: string }>('SELECT count(*)::text AS n FROM tributary_signal');
  assert.ok(Number(signals.rows[0]?.n) >= 12, `two watermark rows per chunk: 5 full chunks and the empty last one (${signals.rows[0]?.n})`);
  // The rows' last write at the destination is the snapshot's READ (op "r"), written after the streamed inserts.
  await waitFor('the snapshot rows to be applied', async () => {
    const r = await e.dst.query<{ n: string }>("SELECT count(*)::text AS n FROM sig_t WHERE _tributary_op = 'r'");
    return r.rows[0]?.n === '5000';
  });
  const leaked = await e.dst.query<{ n: string }>("SELECT count(*)::text AS n FROM information_schema.tables WHERE table_name = 'tributary_signal'");
  assert.equal(leaked.rows[0]?.n, '0', 'watermark rows are not forwarded');
  assert.ok(!logRecords('snapshot ended').some((r) => r['table'] === 'public.tributary_signal'), 'the signal table itself is not snapshotted');

  // A re-backfill through the hub's API: command snapshot.start to the agent, progress back in GET /v1/snapshots.
  const ended = (): number => logRecords('snapshot ended').filter((r) => r['table'] === 'public.sig_t').length;
  const before = ended();
  const res = await waitFor('the hub to relay snapshot.start', async () => {
    const r = await apiFetch(e.httpPort, '/v1/pipelines/main/snapshots', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ table: 'public.sig_t' }) });
    return r.status === 202 ? r : undefined;
  });
  assert.equal(((await res.json()) as { command: { kind: string } }).command.kind, 'snapshot.start');
  await waitFor('the re-backfill to finish', () => ended() > before, 120_000, 200);
  const restart = logRecords('snapshot started').filter((r) => r['table'] === 'public.sig_t').at(-1);
  assert.equal(restart?.['rowsDone'], 0, 'a re-backfill starts from the first key');
  const progress = await waitFor('the hub to show the snapshot done', async () => {
    const body = (await (await apiFetch(e.httpPort, '/v1/snapshots')).json()) as { snapshots: Array<{ table: string; state: string; rowsDone: number }> };
    const p = body.snapshots.find((x) => x.table === 'public.sig_t');
    return p?.state === 'done' ? p : undefined;
  });
  assert.equal(progress.rowsDone, 5000);
  await agent.stop();
  agent.close();
});

test('snapshot rows convert exactly as streamed rows: the type corpus lands value by value from the snapshot', async () => {
  await e.src.query(DDL);
  await e.src.query(ROWS);
  const agent = agentWith('types', { initial: true, chunkRows: 2 });
  agent.start();
  await waitFor('the all_types snapshot to finish', () => logRecords('snapshot ended').some((r) => r['table'] === 'public.all_types' && r['state'] === 'done'), 180_000, 500);
  // The rows' last write is the snapshot's READ (after the streamed inserts): what lands is COPY's text through the converter.
  await waitFor('the snapshot rows to be applied', async () => {
    const r = await e.dst.query<{ n: string }>("SELECT count(*)::text AS n FROM all_types WHERE _tributary_op = 'r'").catch(() => undefined);
    return r?.rows[0]?.n === '4';
  });
  await converged(e, 'all_types', COLUMNS);
  await agent.stop();
  agent.close();
});
