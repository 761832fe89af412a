import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ChangeBatchSchema, ChangeEventSchema } from '../../proto/gen/tributary/v1/change_pb.js';
import { SinkFreshness, positionBytes, sourceTimeOf, worst, type ServerPositions } from './freshness.js';

const NOW_MS = Date.parse('2026-01-01T00:00:10.000Z');
const server: ServerPositions = (key) => (key === 'a/pg' ? { position: 0x1_0000_1000n, kind: 'postgres' } : key === 'a/my' ? { position: (7n << 32n) | 500n, kind: 'mysql' } : undefined);

describe('SinkFreshness', () => {
  it('is unknown (null) per source until a batch of it is applied', () => {
    const f = new SinkFreshness(() => ['a/pg', 'a/my']);
    assert.deepEqual(f.sources(NOW_MS, server), [
      { source: 'a/pg', freshUntilUs: 0, appliedPosition: 0n, lagSeconds: null, lagBytes: null },
      { source: 'a/my', freshUntilUs: 0, appliedPosition: 0n, lagSeconds: null, lagBytes: null },
    ]);
  });

  it('measures seconds from the source time of the newest applied batch and bytes from the server position', () => {
    const f = new SinkFreshness(() => ['a/pg']);
    f.applied('a/pg', 0x1_0000_0800n, (NOW_MS - 2500) * 1000);
    const [pg] = f.sources(NOW_MS, server);
    assert.equal(pg?.lagSeconds, 2.5);
    assert.equal(pg?.lagBytes, 0x800);
    // time passes with nothing applied: the lag grows by itself
    assert.equal(f.sources(NOW_MS + 60_000, server)[0]?.lagSeconds, 62.5);
    // a heartbeat applied: fresh again, past the server's last reported end
    f.applied('a/pg', 0x1_0000_2000n, NOW_MS * 1000);
    assert.deepEqual(f.sources(NOW_MS, server)[0], { source: 'a/pg', freshUntilUs: NOW_MS * 1000, appliedPosition: 0x1_0000_2000n, lagSeconds: 0, lagBytes: 0 });
  });

  it('never moves backwards (a replayed older batch) and ignores sources not routed to the sink', () => {
    const f = new SinkFreshness(() => ['a/pg']);
    f.applied('a/pg', 200n, NOW_MS * 1000);
    f.applied('a/pg', 100n, (NOW_MS - 9000) * 1000);
    f.applied('other/src', 999n, NOW_MS * 1000);
    const list = f.sources(NOW_MS, () => undefined);
    assert.equal(list.length, 1);
    assert.equal(list[0]?.appliedPosition, 200n);
    assert.equal(list[0]?.lagSeconds, 0);
    assert.equal(list[0]?.lagBytes, null, 'no server position reported yet');
  });
});

describe('positionBytes', () => {
  it('subtracts PostgreSQL LSNs and MySQL positions within one binlog file', () => {
    assert.equal(positionBytes('postgres', 0x2_0000_0000n, 0x1_ffff_ff00n), 0x100);
    assert.equal(positionBytes('mysql', (3n << 32n) | 900n, (3n << 32n) | 100n), 800);
    assert.equal(positionBytes('postgres', 5n, 9n), 0);
  });
  it('gives the server offset in its newer binlog file as a lower bound across files', () => {
    assert.equal(positionBytes('mysql', (8n << 32n) | 4096n, (7n << 32n) | 100n), 4096);
  });
});

describe('sourceTimeOf / worst', () => {
  it('uses source_time_us, or the newest commit time for batches from older agents', () => {
    assert.equal(sourceTimeOf(create(ChangeBatchSchema, { sourceTimeUs: 42n, events: [create(ChangeEventSchema, { commitTimeUs: 99n })] })), 42);
    assert.equal(sourceTimeOf(create(ChangeBatchSchema, { events: [create(ChangeEventSchema, { commitTimeUs: 7n }), create(ChangeEventSchema, { commitTimeUs: 9n })] })), 9);
    assert.equal(sourceTimeOf(create(ChangeBatchSchema, {})), 0);
  });
  it('picks the largest known value', () => {
    assert.equal(worst([null, 3, 1]), 3);
    assert.equal(worst([null, null]), null);
    assert.equal(worst([]), null);
  });
});
