import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { deadlineSignal } from './deadline.js';

setFlagsFromString('--expose-gc');
/** A full garbage collection, on demand. */
const collectGarbage = runInNewContext('gc') as () => void;

const aborted = (s: AbortSignal, withinMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    if (s.aborted) return resolve(true);
    const t = setTimeout(() => resolve(false), withinMs);
    s.addEventListener('abort', () => (clearTimeout(t), resolve(true)), { once: true });
  });

test('the deadline aborts with a TimeoutError, also when a garbage collection runs during the wait', async () => {
  const parent = new AbortController();
  for (let i = 0; i < 20; i++) {
    const wait = deadlineSignal(parent.signal, 30);
    await new Promise((r) => setTimeout(r, 1));
    collectGarbage();
    assert.equal(await aborted(wait.signal, 2_000), true, `wait ${i} never aborted`);
    assert.equal((wait.signal.reason as Error).name, 'TimeoutError');
  }
});

test('the parent aborting aborts the wait with the parent\'s reason; an aborted parent aborts it at once', async () => {
  const parent = new AbortController();
  const wait = deadlineSignal(parent.signal, 60_000);
  parent.abort(new Error('stopping'));
  assert.equal(await aborted(wait.signal, 100), true);
  assert.equal((wait.signal.reason as Error).message, 'stopping');
  const late = deadlineSignal(parent.signal, 60_000);
  assert.equal(late.signal.aborted, true);
  assert.equal((late.signal.reason as Error).message, 'stopping');
});

test('clear() ends the wait without aborting it, and the parent no longer reaches it', async () => {
  const parent = new AbortController();
  const wait = deadlineSignal(parent.signal, 20);
  wait.clear();
  assert.equal(await aborted(wait.signal, 100), false, 'a cleared deadline does not fire');
  parent.abort();
  assert.equal(wait.signal.aborted, false, 'a cleared deadline is detached from its parent');
});
