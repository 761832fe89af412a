/**
 * Freshness from a real MariaDB: with `heartbeatTable` the agent writes a
 * heartbeat row on a timer, captures it as freshness (never as a change), and
 * the sink's lag stays small while the source is idle. Without the privilege
 * to write it, heartbeats switch off with a warning naming the fix, the
 * pipeline keeps working, and the idle lag grows, as it must without them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { binlogStreaming, convergedRows, startMySqlE2E, type MySqlE2E } from './support/mysql-e2e.js';
import { httpJson, waitFor, type ManagedProcess } from './support/pipeline.js';

interface SinkRow {
  lagSeconds: number | null;
  freshUntil: string | null;
}

let e: MySqlE2E;
let agent: ManagedProcess;
const HEARTBEAT = { heartbeatTable: 'tributary.heartbeat', heartbeatIntervalMs: 500 };

/** The source heartbeat interval the agent announces (0: off). */
async function announcedInterval(): Promise<number | null> {
  const body = await httpJson<{ agents: { connected: boolean; sourceHeartbeatIntervalMs: number | null }[] }>(e.httpPort, '/v1/agents');
  return body.agents.find((a) => a.connected)?.sourceHeartbeatIntervalMs ?? null;
}

async function sinkRow(): Promise<SinkRow> {
  const body = await httpJson<{ pipelines: { sinks: SinkRow[] }[] }>(e.httpPort, '/v1/pipelines');
  const s = body.pipelines[0]?.sinks[0];
  assert.ok(s !== undefined, 'the test sink is listed');
  return s;
}

before(async () => {
  e = await startMySqlE2E({ name: 'mysql-freshness' });
  await e.mdb.exec('CREATE DATABASE tributary', "GRANT CREATE, INSERT, UPDATE ON tributary.* TO 'tributary'@'%'");
  await e.src.query('CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(40))');
  agent = e.agentWith(HEARTBEAT, 'agent-heartbeat');
  e.hub.start();
  agent.start();
  await binlogStreaming(e);
  await e.src.query("INSERT INTO items VALUES (1, 'first')");
  await convergedRows(e, 'SELECT id, note FROM items ORDER BY id', 'SELECT id, note FROM shop_items ORDER BY id');
});

after(async () => {
  await agent?.stop();
  agent?.close();
  await e?.close();
});

test('idle MariaDB: heartbeat rows keep the sink fresh and never land as changes', async (t) => {
  const first = await waitFor('a measured lag', async () => {
    const s = await sinkRow();
    return s.lagSeconds !== null && s.freshUntil !== null ? s : undefined;
  });
  const samples: number[] = [];
  const started = Date.now();
  while (Date.now() - started < 6_000) {
    const s = await sinkRow();
    assert.ok(s.lagSeconds !== null);
    samples.push(s.lagSeconds);
    await new Promise((r) => setTimeout(r, 400));
  }
  const last = await sinkRow();
  const moved = Date.parse(last.freshUntil ?? '') - Date.parse(first.freshUntil ?? '');
  assert.ok(moved >= 4_000, `fresh-until moved ${moved} ms in 6 s with the source idle`);
  const worstLag = Math.max(...samples);
  assert.ok(worstLag < 5, `idle lag stays small (worst ${worstLag.toFixed(2)} s)`);
  t.diagnostic(`MariaDB idle, heartbeat row every 500 ms: sink lag ${Math.min(...samples).toFixed(2)}–${worstLag.toFixed(2)} s; fresh-until moved ${moved} ms in 6 s`);
  // The heartbeat table is read for freshness only: nothing of it reaches the destination.
  const [rows] = await e.src.query('SELECT COUNT(*) AS n FROM tributary.heartbeat');
  assert.equal(Number((rows as { n: unknown }[])[0]?.n), 1, 'one heartbeat row per source');
  const dst = await e.dst.query("SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%heartbeat%'");
  assert.deepEqual(dst.rows, [], 'no heartbeat table in the destination');
  assert.equal(await announcedInterval(), 500, 'the agent tells the hub it writes heartbeats');
});

test('not permitted to write the heartbeat table: heartbeats switch off with the fix, data still flows', async () => {
  await agent.stop();
  await e.mdb.exec("REVOKE INSERT, UPDATE ON tributary.* FROM 'tributary'@'%'");
  agent.start();
  const log = join(e.dir, 'agent-heartbeat', 'agent.log');
  const warning = await waitFor('the agent to switch heartbeats off', () => {
    const line = readFileSync(log, 'utf8').split('\n').find((l) => l.includes('source heartbeats are off'));
    return line === undefined ? undefined : (JSON.parse(line) as { level: string; reason: string; fix: string });
  }, 60_000, 200);
  assert.equal(warning.level, 'warn');
  assert.match(warning.reason, /errno 1142/);
  assert.match(warning.fix, /GRANT INSERT, UPDATE ON `tributary`\.`heartbeat` TO 'tributary'/);
  await waitFor('the agent to tell the hub its heartbeats are off', async () => (await announcedInterval()) === 0, 30_000, 200);
  await e.src.query("INSERT INTO items VALUES (2, 'second')");
  await convergedRows(e, 'SELECT id, note FROM items ORDER BY id', 'SELECT id, note FROM shop_items ORDER BY id');
  // Idle without heartbeats: the lag is still measured, and it grows (nothing tells the hub the source is idle).
  const s1 = await waitFor('a measured lag', async () => {
    const s = await sinkRow();
    return s.lagSeconds !== null ? s : undefined;
  });
  await new Promise((r) => setTimeout(r, 3_000));
  const s2 = await sinkRow();
  assert.ok(s2.lagSeconds !== null && s2.lagSeconds >= (s1.lagSeconds ?? 0) + 2, `lag grows without heartbeats (${s1.lagSeconds} → ${s2.lagSeconds})`);
});
