import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { judgeStatus, main } from './check.js';
import { StatusFile } from './status-file.js';

const now = new Date('2026-01-01T00:01:00Z');
const at = (iso: string, state = 'running'): string => JSON.stringify({ time: iso, pid: 1, state });

test('a status refreshed within the maximum age is healthy', () => {
  assert.equal(judgeStatus(at('2026-01-01T00:00:45Z'), now, 30).healthy, true);
});

test('a stale, stopped, malformed or timeless status is unhealthy and says why', () => {
  assert.match(judgeStatus(at('2026-01-01T00:00:00Z'), now, 30).reason, /60 s old \(more than 30 s\)/);
  assert.match(judgeStatus(at('2026-01-01T00:00:59Z', 'stopped'), now, 30).reason, /agent stopped/);
  assert.match(judgeStatus('{"time": ', now, 30).reason, /not valid JSON/);
  assert.match(judgeStatus('{"pid": 3}', now, 30).reason, /no valid "time"/);
  assert.match(judgeStatus('7', now, 30).reason, /not a JSON object/);
});

test('the status file is written at once, refreshed, and marked stopped on dispose', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'tributary-health-')), 'status.json');
  let n = 0;
  const errors: unknown[] = [];
  const file = new StatusFile({ path, intervalMs: 20, snapshot: () => ({ n: ++n, lsn: 5n }), onError: (e) => errors.push(e) });
  await new Promise((r) => setTimeout(r, 120));
  const running = JSON.parse(readFileSync(path, 'utf8')) as { state: string; n: number; lsn: string };
  assert.equal(running.state, 'running');
  assert.ok(running.n >= 2, `refreshed (${running.n} writes)`);
  assert.equal(running.lsn, '5');
  assert.equal(await main(['--file', path]), 0);
  await file[Symbol.asyncDispose]();
  assert.equal((JSON.parse(readFileSync(path, 'utf8')) as { state: string }).state, 'stopped');
  assert.equal(await main(['--file', path]), 1);
  assert.deepEqual(errors, []);
});

test('tributary health: a missing file is unhealthy (1), wrong arguments are a usage error (2)', async () => {
  assert.equal(await main(['--file', join(tmpdir(), 'tributary-no-such-status.json')]), 1);
  assert.equal(await main([]), 2);
  assert.equal(await main(['--file', 'x', '--max-age', 'soon']), 2);
});

test('a status file that cannot be written is reported, not thrown', async () => {
  const errors: unknown[] = [];
  const file = new StatusFile({ path: join(tmpdir(), 'tributary-no-such-dir', 'x', 'status.json'), intervalMs: 1000, snapshot: () => ({}), onError: (e) => errors.push(e) });
  await file[Symbol.asyncDispose]();
  assert.equal((errors[0] as NodeJS.ErrnoException).code, 'ENOENT');
});
