import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createLogger } from '../log.js';
import { LmdbChangeLog } from '../log/embedded/lmdb-log.js';
import { HubMetrics } from '../metrics.js';
import type { SinkRoutes } from './routes.js';
import type { Sink, SinkBatch } from './sink.js';
import { SinkWorker } from './worker.js';

/** Routes that a test changes by hand, waking the worker as the pipeline registry does. */
class TestRoutes implements SinkRoutes {
  private waiters: Array<() => void> = [];
  constructor(
    public routed: Set<string>,
    public paused: Set<string>,
  ) {}
  has(k: string): boolean {
    return this.routed.has(k);
  }
  list(): string[] {
    return [...this.routed];
  }
  held(k: string): boolean {
    return this.paused.has(k);
  }
  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }
  notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

const until = async (what: string, ok: () => boolean): Promise<void> => {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('a held source stops the sink right before its next entry; releasing it continues there', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-worker-'));
  const log = new LmdbChangeLog(dir);
  const writes: SinkBatch[] = [];
  const sink: Sink = { name: 'dest', open: async () => null, write: async (b) => void writes.push(b), [Symbol.asyncDispose]: async () => undefined };
  const routes = new TestRoutes(new Set(['agent/a', 'agent/b']), new Set(['agent/a']));
  const worker = new SinkWorker(sink, log, routes, new HubMetrics(), createLogger('error', {}, () => undefined));
  const stop = new AbortController();
  const running = worker.run(stop.signal);
  try {
    // offsets: 1 b, 2 c (not routed), 3 b, 4 a (held), 5 b
    const seq = new Map<string, number>();
    for (const key of ['agent/b', 'agent/c', 'agent/b', 'agent/a', 'agent/b']) {
      const n = (seq.get(key) ?? 0) + 1;
      seq.set(key, n);
      await log.append(key, n, BigInt(n), new Uint8Array(0), []);
    }
    await until('the sink to reach offset 3', () => worker.status().offset === 3);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(worker.status().offset, 3, 'the sink waits before the held source\'s entry');
    assert.equal(log.sinkOffset('dest'), 3);
    routes.paused.clear();
    routes.notify();
    await until('the sink to reach the head', () => worker.status().offset === 5);
    // A source no longer routed is skipped, the others go on.
    routes.routed.delete('agent/a');
    routes.paused.add('agent/a');
    await log.append('agent/a', 2, 2n, new Uint8Array(0), []);
    await log.append('agent/b', 4, 4n, new Uint8Array(0), []);
    await until('the sink to pass an unrouted source', () => worker.status().offset === 7);
  } finally {
    stop.abort();
    await running;
    await log[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sink that waits to fill a batch still writes when a garbage collection runs during the wait', async () => {
  setFlagsFromString('--expose-gc');
  const collectGarbage = runInNewContext('gc') as () => void;
  const dir = mkdtempSync(join(tmpdir(), 'tributary-worker-'));
  const log = new LmdbChangeLog(dir);
  const sink: Sink = { name: 'dest', flush: { maxEvents: 100_000, maxDelayMs: 300 }, open: async () => null, write: async () => undefined, [Symbol.asyncDispose]: async () => undefined };
  const worker = new SinkWorker(sink, log, new TestRoutes(new Set(['agent/a']), new Set()), new HubMetrics(), createLogger('error', {}, () => undefined));
  const stop = new AbortController();
  const running = worker.run(stop.signal);
  try {
    for (let n = 1; n <= 3; n++) {
      await log.append('agent/a', n, BigInt(n), new Uint8Array(0), []);
      // The worker now waits up to maxDelayMs for more entries; nothing else arrives.
      await new Promise((r) => setTimeout(r, 50));
      collectGarbage();
      await until(`the sink to apply entry ${n} once its delay passed`, () => worker.status().offset === n);
    }
  } finally {
    stop.abort();
    await running;
    await log[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  }
});
