import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../log.js';
import { HeartbeatTimer, type HeartbeatFailure, type HeartbeatWriter } from './heartbeat-timer.js';

class FakeWriter implements HeartbeatWriter {
  beats = 0;
  closed = 0;
  /** Failures to throw on the next beats, in order (undefined = succeed). */
  failures: (Error & { code?: string })[] = [];
  async beat(): Promise<void> {
    const f = this.failures.shift();
    if (f !== undefined) throw f;
    this.beats++;
  }
  classify(cause: unknown): HeartbeatFailure {
    const code = (cause as { code?: string }).code;
    return code === 'denied' ? { off: true, message: 'not permitted', fix: 'GRANT it' } : { off: false, message: 'transient' };
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

function capture(): { lines: Record<string, unknown>[]; log: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger('debug', {}, (l) => lines.push(JSON.parse(l) as Record<string, unknown>)) };
}

const err = (code: string): Error & { code: string } => Object.assign(new Error(code), { code });

describe('HeartbeatTimer', () => {
  it('beats on its interval until aborted, then closes the writer', async () => {
    const w = new FakeWriter();
    const { log } = capture();
    const t = new HeartbeatTimer({ intervalMs: 20, writer: w, log });
    const stop = new AbortController();
    const run = t.run(stop.signal);
    await new Promise((r) => setTimeout(r, 300));
    stop.abort();
    await run;
    assert.ok(w.beats >= 3, `expected several beats in 300 ms at 20 ms, got ${w.beats}`);
    assert.equal(t.count, w.beats);
    assert.ok(w.closed >= 1, 'the writer is closed');
  });

  it('retries a transient failure at the next tick, warning once until it works again', async () => {
    const w = new FakeWriter();
    w.failures = [err('down'), err('down'), err('down')];
    const { lines, log } = capture();
    const t = new HeartbeatTimer({ intervalMs: 1000, writer: w, log });
    for (let i = 0; i < 4; i++) await t.tick();
    assert.equal(w.beats, 1);
    assert.equal(t.stopped, false);
    assert.equal(lines.filter((l) => l['level'] === 'warn').length, 1);
    assert.equal(lines.filter((l) => l['msg'] === 'source heartbeats are written again').length, 1);
  });

  it('switches off after a failure the source classifies as not permitted, naming the fix', async () => {
    const w = new FakeWriter();
    w.failures = [err('denied')];
    const { lines, log } = capture();
    const t = new HeartbeatTimer({ intervalMs: 10, writer: w, log });
    await t.run(new AbortController().signal);
    assert.equal(t.stopped, true);
    assert.equal(w.beats, 0);
    const warn = lines.find((l) => l['level'] === 'warn');
    assert.equal(warn?.['fix'], 'GRANT it');
    assert.match(String(warn?.['msg']), /heartbeats are off/);
  });

  it('cuts off a beat in flight when the session ends (a server that stopped answering)', async () => {
    let release = (): void => undefined;
    let started = false;
    const hanging: HeartbeatWriter = {
      beat: () =>
        new Promise<void>((_, reject) => {
          started = true;
          release = () => reject(new Error('connection closed'));
        }),
      classify: () => ({ off: false, message: 'closed' }),
      close: async () => release(),
    };
    const { log } = capture();
    const stop = new AbortController();
    const run = new HeartbeatTimer({ intervalMs: 10, writer: hanging, log }).run(stop.signal);
    while (!started) await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    stop.abort();
    await run;
    assert.ok(Date.now() - t0 < 1000, 'the timer ends at once, without waiting for the hung beat');
  });

  it('skips beats while paused (back-pressure)', async () => {
    const w = new FakeWriter();
    const { log } = capture();
    let paused = true;
    const t = new HeartbeatTimer({ intervalMs: 10, writer: w, log, paused: () => paused });
    const stop = new AbortController();
    const run = t.run(stop.signal);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(w.beats, 0);
    paused = false;
    await new Promise((r) => setTimeout(r, 100));
    stop.abort();
    await run;
    assert.ok(w.beats > 0);
  });
});
