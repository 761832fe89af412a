import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { produceRounds } from './source-writer.js';

describe('produce rounds', () => {
  it('keeps each request per topic under 1 MiB, in order, and sends an oversized record alone', () => {
    const small = (i: number): { key: string; value: string } => ({ key: `k${i}`, value: 'x'.repeat(100_000) });
    const rounds = produceRounds([
      { topic: 'a', messages: Array.from({ length: 20 }, (_, i) => small(i)) },
      { topic: 'b', messages: [{ key: 'big', value: 'y'.repeat(3_000_000) }, small(99)] },
      { topic: 'c', messages: [small(7)] },
    ]);
    assert.equal(rounds.length, 3);
    const a = rounds.flatMap((r) => r.filter((t) => t.topic === 'a').flatMap((t) => t.messages.map((m) => m.key)));
    assert.deepEqual(a, Array.from({ length: 20 }, (_, i) => `k${i}`));
    for (const r of rounds) for (const t of r) if (t.messages.length > 1) assert.ok(t.messages.reduce((n, m) => n + String(m.value).length, 0) < 1 << 20);
    assert.deepEqual(rounds[0]?.find((t) => t.topic === 'b')?.messages.map((m) => m.key), ['big']);
    assert.deepEqual(rounds[1]?.find((t) => t.topic === 'b')?.messages.map((m) => m.key), ['k99']);
    assert.deepEqual(rounds[0]?.find((t) => t.topic === 'c')?.messages.map((m) => m.key), ['k7']);
  });
});
