import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Partitioners, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { defaultPartitioner, partitionRequests, requestChunks, SourceWriter } from './source-writer.js';

describe('request chunks', () => {
  it('keeps each request per topic under 1 MiB, in order, and sends an oversized record alone', () => {
    const small = (i: number): { key: string; value: string } => ({ key: `k${i}`, value: 'x'.repeat(100_000) });
    const a = requestChunks(Array.from({ length: 20 }, (_, i) => small(i)));
    const b = requestChunks([{ key: 'big', value: 'y'.repeat(3_000_000) }, small(99)]);
    const c = requestChunks([small(7)]);
    assert.equal(Math.max(a.length, b.length, c.length), 3);
    assert.deepEqual(a.flatMap((chunk) => chunk.map((m) => m.key)), Array.from({ length: 20 }, (_, i) => `k${i}`));
    for (const chunk of [...a, ...b, ...c]) if (chunk.length > 1) assert.ok(chunk.reduce((n, m) => n + String(m.value).length, 0) < 1 << 20);
    assert.deepEqual(b[0]?.map((m) => m.key), ['big']);
    assert.deepEqual(b[1]?.map((m) => m.key), ['k99']);
    assert.deepEqual(c[0]?.map((m) => m.key), ['k7']);
  });
});

describe('partition requests', () => {
  const partitioner = defaultPartitioner();
  it('sends one partition per request, each partition\'s records in order, with the partition set', () => {
    const messages: Message[] = Array.from({ length: 200 }, (_, i) => ({ key: `{"id":${i % 37}}`, value: `v${i}` }));
    const requests = partitionRequests({ topic: 't', messages }, (m) => partitioner('t', 4, m));
    const seen = new Map<number, string[]>();
    for (const r of requests) {
      assert.equal(r.topic, 't');
      const partitions = new Set(r.messages.map((m) => m.partition));
      assert.equal(partitions.size, 1, 'one partition per request');
      const p = r.messages[0]?.partition as number;
      assert.ok(p >= 0 && p < 4);
      seen.set(p, [...(seen.get(p) ?? []), ...r.messages.map((m) => String(m.value))]);
    }
    // Every record once, in its original order within its partition; one key stays on one partition.
    assert.equal([...seen.values()].flat().length, 200);
    for (const values of seen.values()) assert.deepEqual(values, [...values].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))));
    const partitionOfKey = new Map<string, number>();
    for (const r of requests) for (const m of r.messages) {
      const k = String(m.key);
      assert.equal(partitionOfKey.get(k) ?? m.partition, m.partition, `key ${k} on one partition`);
      partitionOfKey.set(k, m.partition as number);
    }
    assert.ok(new Set(partitionOfKey.values()).size > 1, 'keys spread over partitions');
  });

  it('keeps a partition a record already has, and keeps each request under 1 MiB', () => {
    const messages: Message[] = Array.from({ length: 30 }, (_, i) => ({ partition: i % 2, key: `k${i}`, value: 'x'.repeat(100_000) }));
    const requests = partitionRequests({ topic: 'state', messages }, () => assert.fail('the partitioner is not asked for a record with a partition'));
    assert.ok(requests.length >= 4);
    for (const r of requests) {
      assert.equal(new Set(r.messages.map((m) => m.partition)).size, 1);
      assert.ok(r.messages.reduce((n, m) => n + String(m.value).length, 0) < 1 << 20);
    }
    assert.deepEqual(requests.flatMap((r) => r.messages.filter((m) => m.partition === 1).map((m) => m.key)), messages.filter((m) => m.partition === 1).map((m) => m.key));
  });

  it('gives a keyed record the partition kafkajs\'s own partitioner gives it; a keyless one goes round', () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 1, replicas: [1], isr: [1] }));
    for (let i = 0; i < 50; i++) {
      const message = { key: `{"id":${i}}`, value: 'v' };
      assert.equal(partitioner('t', 6, message), kafkajs({ topic: 't', partitionMetadata, message }));
    }
    const keyless = new Set(Array.from({ length: 12 }, () => partitioner('u', 6, { key: null, value: 'v' })));
    assert.equal(keyless.size, 6, 'keyless records spread over every partition');
    assert.equal(partitioner('one', 1, { key: 'anything', value: 'v' }), 0);
  });
});

describe('source writer', () => {
  it('sends every request of a transaction to one partition, and commits once', async () => {
    const sends: TopicMessages[] = [];
    let commits = 0;
    const txn = {
      send: async (r: TopicMessages) => {
        sends.push(r);
        return [{ topicName: r.topic, partition: r.messages[0]?.partition ?? 0, errorCode: 0, baseOffset: '7' }];
      },
      sendBatch: async () => assert.fail('no request spans topics or partitions'),
      commit: async () => void commits++,
      abort: async () => undefined,
    };
    const producer = { transaction: async () => txn } as unknown as Producer;
    const checkpoints: number[] = [];
    const writer = new SourceWriter(producer, 'agent/src', {
      ingestTopic: 'in',
      stateTopic: 'st',
      statePartition: 1,
      ensureTopics: async () => undefined,
      partitions: (topic) => (topic === 'wide' ? 3 : 1),
      committed: (c) => void checkpoints.push(c.sequence),
    }, 1);
    const rows = (n: number): Message[] => Array.from({ length: n }, (_, i) => ({ key: `{"id":${i}}`, value: `v${i}` }));
    const offset = await writer.enqueue({ sequence: 1, position: 10n, hash: 'h', ingest: { partition: 0, key: 'agent/src', value: 'b' }, tables: [{ topic: 'wide', messages: rows(30) }, { topic: 'narrow', messages: rows(5) }], schemas: [] });
    assert.equal(offset, 7);
    assert.equal(commits, 1);
    assert.deepEqual(checkpoints, [1]);
    for (const s of sends) assert.equal(new Set(s.messages.map((m) => m.partition)).size, 1, `one partition per request to ${s.topic}`);
    assert.deepEqual([...new Set(sends.map((s) => s.topic))], ['in', 'wide', 'narrow', 'st']);
    assert.equal(sends.filter((s) => s.topic === 'wide').flatMap((s) => s.messages).length, 30);
    assert.ok(sends.filter((s) => s.topic === 'wide').length > 1, 'the 3-partition topic went out in a request per partition');
    assert.deepEqual(sends.filter((s) => s.topic === 'st').flatMap((s) => s.messages.map((m) => m.partition)), [1]);
  });
});
