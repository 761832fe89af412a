/**
 * The hub down: the agent keeps spooling and keeps confirming the slot, so
 * the source does not hold WAL; afterwards the destination catches up
 * exactly. The spool full: the agent stops confirming, says so, and recovers
 * when the hub drains it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { converged, streaming, slotConfirmedFlush, startE2E, type E2E } from './support/e2e.js';
import { waitFor } from './support/pipeline.js';

let e: E2E;
const COLUMNS = ['id', 'payload'];

async function currentLsn(): Promise<bigint> {
  const r = await e.src.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  const [hi, lo] = (r.rows[0]?.lsn ?? '0/0').split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

before(async () => {
  // The smallest spool the agent accepts (1 MiB) makes "full" quick to reach.
  e = await startE2E({ name: 'outage', spoolMaxBytes: 1 << 20 });
  await e.src.query('CREATE TABLE items (id int PRIMARY KEY, payload text)');
  e.hub.start();
  e.agent.start();
  await streaming(e);
  await e.src.query("INSERT INTO items VALUES (0, 'warm-up')");
  await converged(e, 'items', COLUMNS);
});

after(async () => {
  await e?.close();
});

test('hub down: the slot keeps advancing, then the destination catches up exactly', async () => {
  await e.hub.kill9();
  for (let i = 1; i <= 20; i++) await e.src.query("INSERT INTO items SELECT g, 'row ' || g FROM generate_series($1::int, $2::int) g", [i * 100, i * 100 + 49]);
  await e.src.query('UPDATE items SET payload = payload || \' updated\' WHERE id % 7 = 0');
  await e.src.query('DELETE FROM items WHERE id % 11 = 0');
  const written = await currentLsn();
  await waitFor('confirmed_flush_lsn to pass the writes while the hub is down', async () => (await slotConfirmedFlush(e)) >= written, 30_000);
  e.hub.start();
  await converged(e, 'items', COLUMNS);
});

test('spool full: the agent stops confirming and says so, then recovers', async () => {
  await e.hub.kill9();
  const before = await slotConfirmedFlush(e);
  // ~3 MB of changes: three times the spool's limit.
  for (let i = 0; i < 30; i++) await e.src.query("INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series($1::int, $2::int) g", [100_000 + i * 1000, 100_000 + i * 1000 + 999]);
  const written = await currentLsn();
  const agentLog = join(e.dir, 'agent', 'agent.log');
  await waitFor('the agent to report a full spool', () => readFileSync(agentLog, 'utf8').includes('spool is full'), 30_000);
  // What was spooled before reading stopped is durable and may still be
  // confirmed (status updates go out at most once a second); then it stops.
  let stalled = await slotConfirmedFlush(e);
  await waitFor('the confirmed position to settle', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    const now = await slotConfirmedFlush(e);
    const settled = now === stalled;
    stalled = now;
    return settled;
  }, 30_000, 0);
  assert.ok(stalled >= before, 'confirmed position never moves backwards');
  assert.ok(stalled < written, 'the agent must not confirm changes it could not spool');
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await slotConfirmedFlush(e), stalled, 'no confirmation while the spool is full');
  e.hub.start();
  await converged(e, 'items', COLUMNS, 180_000);
  await waitFor('confirmed_flush_lsn to pass the writes after recovery', async () => (await slotConfirmedFlush(e)) >= written, 60_000);
  assert.match(readFileSync(agentLog, 'utf8'), /spool has room again/);
});
