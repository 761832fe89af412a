/**
 * End-to-end freshness with a real PostgreSQL, hub and agent: heartbeats the
 * agent writes into the WAL travel the whole path, so with the source idle
 * the sink's lag stays small and its "fresh until" keeps moving; with the
 * destination unreachable the sink's lag grows (while the hub log stays
 * fresh); once it is back, the lag shrinks again. Both processes log only
 * JSON lines.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { converged, streaming, startE2E, type E2E } from './support/e2e.js';
import { apiFetch, httpJson, waitFor } from './support/pipeline.js';

interface SinkRow {
  name: string;
  lagSeconds: number | null;
  lagBytes: number | null;
  freshUntil: string | null;
  failing: boolean;
}
interface PipelineRow {
  name: string;
  lagSeconds: number | null;
  lagBytes: number | null;
  ingest: { lagSeconds: number | null; lagBytes: number | null };
  sinks: SinkRow[];
}

let e: E2E;
const HEARTBEAT_MS = 500;

async function pipeline(): Promise<PipelineRow> {
  const body = await httpJson<{ pipelines: PipelineRow[] }>(e.httpPort, '/v1/pipelines');
  const p = body.pipelines[0];
  assert.ok(p !== undefined, 'the test pipeline is listed');
  return p;
}

async function sinkRow(): Promise<SinkRow> {
  const s = (await pipeline()).sinks[0];
  assert.ok(s !== undefined, 'the test sink is listed');
  return s;
}

/** Blocks new connections to the destination database and ends the sink's sessions: the destination is "down". */
async function destinationDown(down: boolean): Promise<void> {
  await e.src.query(`ALTER DATABASE dst ALLOW_CONNECTIONS ${down ? 'false' : 'true'}`);
  if (down) await e.src.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'dst' AND pid <> pg_backend_pid()");
}

before(async () => {
  e = await startE2E({ name: 'freshness', source: { heartbeatIntervalMs: HEARTBEAT_MS } });
  await e.src.query('CREATE TABLE items (id int PRIMARY KEY, note text)');
  e.hub.start();
  e.agent.start();
  await streaming(e);
  await e.src.query("INSERT INTO items VALUES (1, 'first')");
  await converged(e, 'items', ['id', 'note']);
});

after(async () => {
  await destinationDown(false).catch(() => undefined);
  await e?.close();
});

test('idle source: heartbeats keep the sink fresh, measured, without any row change', async (t) => {
  const rows = async (): Promise<number> => Number((await e.src.query<{ n: string }>('SELECT count(*) AS n FROM items')).rows[0]?.n);
  const before = await rows();
  const first = await waitFor('a measured lag', async () => {
    const s = await sinkRow();
    return s.lagSeconds !== null && s.freshUntil !== null ? s : undefined;
  });
  const samples: number[] = [];
  const started = Date.now();
  while (Date.now() - started < 8_000) {
    const s = await sinkRow();
    assert.ok(s.lagSeconds !== null, 'lag stays measured');
    samples.push(s.lagSeconds);
    await new Promise((r) => setTimeout(r, 400));
  }
  const last = await sinkRow();
  assert.equal(await rows(), before, 'the source stayed idle: no row changed');
  // Heartbeats arrived: the sink is fresh up to a later source time than 8 s ago, with no data change.
  const moved = Date.parse(last.freshUntil ?? '') - Date.parse(first.freshUntil ?? '');
  assert.ok(moved >= 5_000, `fresh-until moved ${moved} ms in 8 s of idleness`);
  // Small: the heartbeat interval plus the pipeline's own delay (generous: the machine is shared).
  const worstLag = Math.max(...samples);
  assert.ok(worstLag < 5, `idle lag stays small (worst sample ${worstLag.toFixed(2)} s of ${samples.length})`);
  assert.ok(samples.some((v) => v > 0), 'the lag is measured, not a constant 0');
  t.diagnostic(`idle, heartbeat every ${HEARTBEAT_MS} ms: sink lag ${Math.min(...samples).toFixed(2)}–${worstLag.toFixed(2)} s over ${samples.length} samples; fresh-until moved ${moved} ms in 8 s`);
  const p = await pipeline();
  assert.ok(p.ingest.lagSeconds !== null && p.ingest.lagSeconds < 5, `hub log fresh too (${p.ingest.lagSeconds})`);
  assert.equal(p.lagSeconds, p.sinks[0]?.lagSeconds, 'the pipeline is as fresh as its only sink');

  const metrics = await (await apiFetch(e.httpPort, '/metrics')).text();
  const gauge = /^tributary_sink_lag_seconds\{sink="dest",source="agent-1\/src"\} ([0-9.e+-]+)$/m.exec(metrics);
  assert.ok(gauge !== null, 'the per-sink, per-source lag gauge is exported');
  assert.ok(Number(gauge[1]) < 5, `gauge ${gauge[1]}`);
  assert.match(metrics, /^tributary_source_lag_seconds\{source="agent-1\/src"\} [0-9.e+-]+$/m);
  assert.match(metrics, /^tributary_source_lag_bytes\{source="agent-1\/src"\} \d+$/m);
});

test('destination down: the sink lag grows while the hub log stays fresh; back up: it shrinks', async (t) => {
  await destinationDown(true);
  // A change the sink cannot apply; heartbeats queue behind it.
  await e.src.query("INSERT INTO items SELECT g, repeat('x', 200) FROM generate_series(2, 2001) g");
  const grown = await waitFor(
    'the sink lag to grow past 8 s',
    async () => {
      const p = await pipeline();
      const s = p.sinks[0];
      return s !== undefined && s.lagSeconds !== null && s.lagSeconds > 8 ? p : undefined;
    },
    90_000,
    500,
  );
  const sink = grown.sinks[0] as SinkRow;
  assert.equal(sink.failing, true, 'the sink reports its failing writes');
  assert.ok(sink.lagBytes !== null && sink.lagBytes > 100_000, `the sink is behind in source bytes too (${sink.lagBytes})`);
  assert.ok(grown.ingest.lagSeconds !== null && grown.ingest.lagSeconds < 5, `the hub log keeps receiving heartbeats (${grown.ingest.lagSeconds})`);
  assert.ok(grown.lagSeconds !== null && grown.lagSeconds >= sink.lagSeconds! - 1, 'the pipeline reports its stale sink');

  await destinationDown(false);
  await converged(e, 'items', ['id', 'note'], 120_000);
  const recovered = await waitFor(
    'the sink lag to shrink',
    async () => {
      const s = await sinkRow();
      return s.lagSeconds !== null && s.lagSeconds < 5 && !s.failing ? s : undefined;
    },
    90_000,
    500,
  );
  assert.ok(recovered.lagSeconds! < sink.lagSeconds!, `shrunk from ${sink.lagSeconds} to ${recovered.lagSeconds}`);
  t.diagnostic(`destination down: sink lag ${sink.lagSeconds?.toFixed(2)} s / ${sink.lagBytes} bytes, hub log lag ${grown.ingest.lagSeconds?.toFixed(2)} s; back up: ${recovered.lagSeconds?.toFixed(2)} s`);
  await waitFor('the byte lag to shrink', async () => {
    const s = await sinkRow();
    return s.lagBytes !== null && s.lagBytes < (sink.lagBytes ?? 0) / 10;
  }, 30_000, 500);
});

test('every line the hub and the agent logged is one JSON object with time, level and component', () => {
  for (const file of [join(e.dir, 'hub', 'hub.log'), join(e.dir, 'agent', 'agent.log')]) {
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    assert.ok(lines.length > 3, `${file} has log lines`);
    for (const line of lines) {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        assert.fail(`${file}: not a JSON line: ${line.slice(0, 200)}`);
      }
      assert.ok(typeof rec['time'] === 'string' && !Number.isNaN(Date.parse(rec['time'])), `${file}: time in ${line.slice(0, 200)}`);
      assert.match(String(rec['level']), /^(debug|info|warn|error)$/, `${file}: level in ${line.slice(0, 200)}`);
      assert.ok(typeof rec['component'] === 'string' && rec['component'] !== '', `${file}: component in ${line.slice(0, 200)}`);
      assert.ok(typeof rec['msg'] === 'string', `${file}: msg in ${line.slice(0, 200)}`);
    }
  }
});
