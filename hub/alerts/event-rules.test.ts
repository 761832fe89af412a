import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHubConfig } from '../config.js';
import type { HubEvent } from '../events/hub-events.js';
import { evaluateEvent } from './event-rules.js';

const rules = parseHubConfig({ log: { path: '/x' } }, {}).alerts.rules;
const ev = (o: Partial<HubEvent>): HubEvent => ({ id: 'e1', at: '2026-01-01T00:00:00.000Z', kind: 'x', workspace: 'acme', severity: 'info', message: 'm', data: {}, ...o });

describe('event rules', () => {
  it('a schema change is a once-only notification with the event severity', () => {
    const a = evaluateEvent(ev({ kind: 'schema.incompatible', severity: 'warning', table: 'public.orders', source: 'edge/db', message: 'amount: numeric → text' }), rules);
    assert.equal(a.raise.length, 1);
    const c = a.raise[0];
    assert.equal(c?.rule, 'schemaChanged');
    assert.equal(c?.severity, 'warning');
    assert.equal(c?.title, 'Incompatible schema change: public.orders');
    assert.equal(c?.once, true);
    assert.equal(c?.autoResolve, false);
  });

  it('a finished snapshot notifies once per run and settles an earlier failure; a failed one is critical', () => {
    const base = { kind: 'agent.snapshot.progress', source: 'edge/db' };
    const failed = evaluateEvent(ev({ ...base, severity: 'info', data: { payload: { table: 'public.t', state: 'failed', error: 'permission denied', startedAt: 's1' } } }), rules);
    assert.equal(failed.raise[0]?.severity, 'critical');
    assert.equal(failed.raise[0]?.key, 'snapshot:edge/db:public.t');
    assert.match(failed.raise[0]?.message ?? '', /permission denied/);
    const done = evaluateEvent(ev({ ...base, data: { payload: { table: 'public.t', state: 'done', rowsDone: 42, startedAt: 's2' } } }), rules);
    assert.deepEqual(done.resolve, ['snapshot:edge/db:public.t']);
    assert.equal(done.raise[0]?.key, 'snapshot.done:edge/db:public.t:s2');
    assert.equal(done.raise[0]?.once, true);
    assert.match(done.raise[0]?.message ?? '', /42 rows/);
    assert.deepEqual(evaluateEvent(ev({ ...base, data: { payload: { table: 'public.t', state: 'running' } } }), rules), { raise: [], resolve: [], doctor: null });
  });

  it('a doctor report is stored; a malformed one is refused whole', () => {
    const good = evaluateEvent(ev({ kind: 'agent.doctor.findings', source: 'edge/db', data: { payload: { checkedAt: '2026-01-01T00:00:00Z', findings: [{ check: 'wal_level', severity: 'ok', message: 'fine' }] } } }), rules);
    assert.equal(good.doctor?.source, 'edge/db');
    assert.equal(good.doctor?.findings.length, 1);
    for (const data of [{ checkedAt: 'nope', findings: [] }, { checkedAt: '2026-01-01T00:00:00Z', findings: [{ check: 'x', severity: 'fatal', message: 'm' }] }, { checkedAt: '2026-01-01T00:00:00Z', findings: [{ check: 'x', severity: 'ok', message: 'm', fix: 3 }] }])
      assert.equal(evaluateEvent(ev({ kind: 'agent.doctor.findings', source: 'edge/db', data: { payload: data } }), rules).doctor, null);
  });
});
