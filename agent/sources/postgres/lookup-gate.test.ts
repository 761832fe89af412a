import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../log.js';
import { LookupGate } from './lookup-gate.js';
import type { PgOutputMessage } from './protocol.js';

/** A capture that records what it handled; message i asks for a lookup when i is in `lookups`. */
function fakeCapture(lookups: Set<number>) {
  const handled: number[] = [];
  const missing: [number, string[]][] = [];
  let next: { relationId: number; tableKey: string } | null = null;
  return {
    handled,
    missing,
    error: null,
    handle(m: PgOutputMessage) {
      const n = (m as { xid?: number }).xid ?? -1;
      handled.push(n);
      if (lookups.has(n)) next = { relationId: n, tableKey: `t${n}` };
    },
    takeLookup() {
      const l = next;
      next = null;
      return l;
    },
    setMissing(relationId: number, values: ReadonlyMap<string, string>) {
      missing.push([relationId, [...values.keys()]]);
    },
    fail() {},
  };
}

/** A pgoutput Begin message carrying `xid` (what the fake capture records). */
function begin(xid: number): Uint8Array {
  const b = Buffer.alloc(21);
  b.write('B', 0);
  b.writeBigUInt64BE(1n, 1);
  b.writeBigInt64BE(0n, 9);
  b.writeUInt32BE(xid, 17);
  return b;
}

describe('LookupGate', () => {
  it('holds messages while a lookup runs, then hands them over in order; not idle meanwhile', async () => {
    const capture = fakeCapture(new Set([2]));
    let resolve: (v: Map<string, string>) => void = () => undefined;
    const gate = new LookupGate(capture as never, () => new Promise((r) => (resolve = r)), createLogger('error'), { pause() {}, resume() {} });
    for (const n of [1, 2, 3, 4]) gate.push(begin(n));
    assert.deepEqual(capture.handled, [1, 2]);
    assert.equal(gate.idle, false);
    resolve(new Map([['c', '5']]));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(capture.missing, [[2, ['c']]]);
    assert.deepEqual(capture.handled, [1, 2, 3, 4]);
    assert.equal(gate.idle, true);
  });

  it('goes on without missing values when the lookup fails, and stops at a second lookup', async () => {
    const capture = fakeCapture(new Set([1, 3]));
    const answers: ((v: Map<string, string>) => void)[] = [];
    let calls = 0;
    const gate = new LookupGate(
      capture as never,
      () => (calls++ === 0 ? Promise.reject(new Error('catalog away')) : new Promise((r) => answers.push(r))),
      createLogger('error'),
      { pause() {}, resume() {} },
    );
    for (const n of [1, 2, 3, 4, 5]) gate.push(begin(n));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(capture.handled, [1, 2, 3]);
    assert.equal(gate.idle, false);
    answers[0]?.(new Map());
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(capture.handled, [1, 2, 3, 4, 5]);
    assert.deepEqual(capture.missing, [[3, []]]);
  });
});
