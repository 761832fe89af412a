import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HubError } from '../errors.js';
import type { Condition } from './alert.js';
import { AlertFeed } from './alert-feed.js';
import { AlertStore } from './alert-store.js';

const dirs: string[] = [];
function tempStore(): { store: AlertStore; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-alert-feed-'));
  dirs.push(dir);
  return { store: new AlertStore(dir), path: dir };
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const cond = (o: Partial<Condition> = {}): Condition => ({
  rule: 'agentDisconnected',
  key: 'agentDisconnected:edge/db',
  workspace: 'acme',
  severity: 'warning',
  title: 'Agent edge disconnected',
  message: 'gone',
  source: 'edge/db',
  sink: null,
  table: null,
  data: {},
  autoResolve: true,
  ...o,
});

describe('alert feed', () => {
  it('open → acknowledged → resolved, one unresolved alert per key, a new one after resolution', async () => {
    const { store } = tempStore();
    const feed = new AlertFeed(store, 100);
    const opened = await feed.raise(cond(), 1000);
    assert.equal(opened?.type, 'alert.opened');
    const id = opened?.alert.id ?? '';
    assert.equal(await feed.raise(cond(), 2000), null, 'the same condition again changes nothing');
    assert.equal((await feed.raise(cond({ severity: 'critical' }), 3000))?.type, 'alert.escalated');
    assert.equal(feed.get(id)?.severity, 'critical');
    const acked = await feed.ack('acme', id, 4000);
    assert.equal(acked.state, 'acknowledged');
    assert.equal(acked.acknowledgedAt, new Date(4000).toISOString());
    assert.equal(await feed.raise(cond({ severity: 'critical', message: 'still gone' }), 4500), null, 'a refresh is not re-sent');
    assert.equal(feed.get(id)?.state, 'acknowledged', 'a refresh keeps the acknowledgement');
    const resolved = await feed.resolve(cond().key, 5000);
    assert.equal(resolved?.type, 'alert.resolved');
    assert.equal(resolved?.alert.resolvedAt, new Date(5000).toISOString());
    assert.equal(await feed.resolve(cond().key, 6000), null);
    await assert.rejects(feed.ack('acme', id, 7000), (e: unknown) => e instanceof HubError && e.kind === 'conflict');
    const again = await feed.raise(cond(), 8000);
    assert.equal(again?.type, 'alert.opened');
    assert.notEqual(again?.alert.id, id);
    assert.deepEqual(feed.list('acme').map((a) => a.state), ['open', 'resolved']);
    assert.deepEqual(feed.list('acme', 'resolved').map((a) => a.id), [id]);
    await store[Symbol.asyncDispose]();
  });

  it('another workspace neither sees nor acknowledges an alert', async () => {
    const { store } = tempStore();
    const feed = new AlertFeed(store, 100);
    const t = await feed.raise(cond(), 1000);
    assert.deepEqual(feed.list('other'), []);
    await assert.rejects(feed.ack('other', t?.alert.id ?? '', 2000), (e: unknown) => e instanceof HubError && e.kind === 'not-found');
    await assert.rejects(feed.ack('acme', '../../etc', 2000), (e: unknown) => e instanceof HubError && e.kind === 'not-found');
    await store[Symbol.asyncDispose]();
  });

  it('a once-only notification is raised once, even after it was acknowledged or pruned', async () => {
    const { store } = tempStore();
    const feed = new AlertFeed(store, 10);
    const n = cond({ rule: 'schemaChanged', key: 'schema:e1', autoResolve: false, once: true, severity: 'info' });
    const t = await feed.raise(n, 1000);
    assert.equal(t?.type, 'alert.opened');
    await feed.ack('acme', t?.alert.id ?? '', 1500);
    assert.equal(await feed.raise(n, 2000), null);
    assert.equal(feed.unresolvedAuto().length, 0, 'notifications never resolve by themselves');
  });

  it('survives a reopen (on disk), and prune keeps the newest resolved alerts', async () => {
    const { store, path } = tempStore();
    const feed = new AlertFeed(store, 10);
    for (let i = 0; i < 15; i++) {
      await feed.raise(cond({ key: `k${i}` }), 1000 + i);
      await feed.resolve(`k${i}`, 2000 + i);
    }
    await feed.raise(cond({ key: 'still-open' }), 3000);
    await store[Symbol.asyncDispose]();
    const reopened = new AlertStore(path);
    const feed2 = new AlertFeed(reopened, 10);
    assert.equal(feed2.list('acme').length, 16);
    assert.equal(await feed2.prune(), 5);
    const left = feed2.list('acme');
    assert.equal(left.length, 11);
    assert.equal(left.filter((a) => a.state === 'open').length, 1);
    assert.ok(!left.some((a) => a.key === 'k0'), 'the oldest resolved were dropped');
    assert.equal((await feed2.raise(cond({ key: 'k0' }), 4000))?.type, 'alert.opened', 'a dropped key can alert again');
    await reopened[Symbol.asyncDispose]();
  });
});
