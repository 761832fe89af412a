import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimate, slotFindings, type SlotRow } from './postgres-slot.js';

const MiB = 1 << 20;
const row = (o: Partial<SlotRow>): SlotRow => ({ active: false, walStatus: 'reserved', safeWalSize: 60 * MiB, retainedBytes: 4 * MiB, currentLsn: 1000n * BigInt(MiB), ...o });

describe('slot retention estimate', () => {
  it('an inactive slot falls behind at the WAL rate', () => {
    const prev = { atMs: 0, currentLsn: 990n * BigInt(MiB), retainedBytes: 0 };
    const e = estimate(row({}), prev, 10_000); // 10 MiB in 10 s
    assert.equal(e.walRate, MiB);
    assert.equal(e.timeLeftSeconds, 60);
    assert.equal(e.outageBudgetSeconds, 60);
  });

  it('an active slot that keeps up is not at risk whatever the WAL rate', () => {
    const prev = { atMs: 0, currentLsn: 900n * BigInt(MiB), retainedBytes: 4 * MiB };
    const e = estimate(row({ active: true }), prev, 10_000);
    assert.equal(e.timeLeftSeconds, Infinity);
    assert.equal(e.outageBudgetSeconds, 60 * MiB / (10 * MiB)); // 100 MiB in 10 s
  });

  it('an active slot falling behind runs out at its growth rate', () => {
    const prev = { atMs: 0, currentLsn: 990n * BigInt(MiB), retainedBytes: 2 * MiB };
    const e = estimate(row({ active: true }), prev, 2_000); // +2 MiB in 2 s
    assert.equal(e.timeLeftSeconds, 60);
  });

  it('without a previous sample nothing is extrapolated', () => {
    const e = estimate(row({}), null, 1);
    assert.equal(e.walRate, null);
    assert.equal(e.timeLeftSeconds, Infinity);
  });
});

describe('slot findings', () => {
  const keep = 64 * MiB;
  it('a slot about to be invalidated is critical and names the statement that raises the limit', () => {
    const prev = { atMs: 0, currentLsn: 990n * BigInt(MiB), retainedBytes: 0 };
    const f = slotFindings('s1', row({}), keep, prev, 10_000);
    const r = f.find((x) => x.check === 'slot.retention');
    assert.equal(r?.severity, 'critical');
    assert.match(r?.message ?? '', /invalidated in about 60 s/);
    assert.match(r?.fix ?? '', /ALTER SYSTEM SET max_slot_wal_keep_size = '128MB'; SELECT pg_reload_conf\(\);/);
  });

  it('more than half the limit retained is a warning even when idle', () => {
    const f = slotFindings('s1', row({ retainedBytes: 40 * MiB, safeWalSize: 24 * MiB }), keep, null, 0);
    assert.equal(f.find((x) => x.check === 'slot.retention')?.severity, 'warning');
  });

  it('unreserved and lost are critical; lost says to re-snapshot', () => {
    assert.equal(slotFindings('s1', row({ walStatus: 'unreserved', safeWalSize: -MiB }), keep, null, 0).filter((x) => x.severity === 'critical').length, 2);
    const lost = slotFindings('s1', row({ walStatus: 'lost', safeWalSize: null }), keep, null, 0);
    assert.equal(lost.length, 1);
    assert.match(lost[0]?.fix ?? '', /pg_drop_replication_slot\('s1'\).*re-snapshot/);
  });

  it('an unlimited slot warns only when it holds a lot of WAL', () => {
    assert.equal(slotFindings('s1', row({ safeWalSize: null }), -1, null, 0).find((x) => x.check === 'slot.retention')?.severity, 'ok');
    const big = slotFindings('s1', row({ safeWalSize: null, retainedBytes: 2 * 1024 * MiB }), -1, null, 0).find((x) => x.check === 'slot.retention');
    assert.equal(big?.severity, 'warning');
    assert.match(big?.fix ?? '', /max_slot_wal_keep_size = '8192MB'/);
  });

  it('a healthy slot is ok', () => {
    const f = slotFindings('s1', row({ active: true }), keep, { atMs: 0, currentLsn: 1000n * BigInt(MiB), retainedBytes: 4 * MiB }, 60_000);
    assert.deepEqual(f.map((x) => x.severity), ['ok', 'ok']);
  });
});
