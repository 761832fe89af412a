import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { HeartbeatSchema } from '../../proto/gen/tributary/v1/uplink_pb.js';
import { parseHubConfig } from '../config.js';
import type { AgentSession } from '../ingest/ingest-server.js';
import type { SinkWorkerStatus } from '../sinks/worker.js';
import { evaluateLevelRules, HoldTracker, type HubView } from './level-rules.js';

const config = parseHubConfig(
  {
    log: { path: '/unused' },
    sinks: [{ kind: 'postgres', name: 'dw', database: 'dw', user: 'u', workspace: 'acme' }],
    pipelines: [{ name: 'p', agent: 'edge', source: 'db', sinks: ['dw'], workspace: 'acme' }],
    alerts: { rules: { agentDisconnected: { seconds: 30 }, lag: { seconds: 60, minutes: 2 }, sinkFailing: { seconds: 10 }, spoolFilling: { ratio: 0.5 } } },
  },
  {},
);
const rules = config.alerts.rules;
const T0 = Date.parse('2026-01-01T00:00:00Z');

function session(o: Partial<AgentSession> = {}): AgentSession {
  return { agentId: 'edge', workspace: 'acme', sourceId: 'db', sourceKind: 'postgres', agentVersion: '0', connectedAt: new Date(T0), lastSeen: new Date(T0), lastHeartbeat: null, connected: true, freshUntilUs: 0, ...o };
}

function sink(o: Partial<SinkWorkerStatus> = {}): SinkWorkerStatus {
  return { sink: 'dw', offset: 10, lastCommitTimeUs: 0, appliedAt: 0, failing: false, lastError: null, lagSeconds: null, lagBytes: null, sources: [], ...o };
}

function view(o: Partial<HubView>): HubView {
  return { nowMs: T0, startedAtMs: T0, sessions: new Map([['edge/db', session()]]), pipelines: config.pipelines, sinks: [sink()], sinkWorkspaces: new Map([['dw', 'acme']]), logHead: 10, doctor: [], ...o };
}

const keys = (v: HubView): string[] => evaluateLevelRules(v, rules).candidates.map((c) => c.key);

describe('level rules', () => {
  it('a healthy hub raises nothing', () => {
    assert.deepEqual(evaluateLevelRules(view({}), rules).candidates, []);
  });

  it('an agent gone for longer than the threshold is disconnected (critical, in its workspace); before that it is undecided', () => {
    const down = new Map([['edge/db', session({ connected: false, lastSeen: new Date(T0) })]]);
    const early = evaluateLevelRules(view({ sessions: down, nowMs: T0 + 29_000 }), rules);
    assert.deepEqual(early.candidates, []);
    assert.ok(early.undecided.has('agentDisconnected:edge/db'));
    const late = evaluateLevelRules(view({ sessions: down, nowMs: T0 + 31_000 }), rules).candidates;
    assert.equal(late.length, 1);
    assert.equal(late[0]?.key, 'agentDisconnected:edge/db');
    assert.equal(late[0]?.severity, 'critical');
    assert.equal(late[0]?.workspace, 'acme');
    assert.match(late[0]?.message ?? '', /disconnected since 2026-01-01T00:00:00.000Z$/);
  });

  it("a pipeline's agent that never connected since the hub started counts as disconnected after the threshold", () => {
    assert.deepEqual(keys(view({ sessions: new Map(), nowMs: T0 + 10_000 })), []);
    const c = evaluateLevelRules(view({ sessions: new Map(), nowMs: T0 + 40_000 }), rules).candidates[0];
    assert.match(c?.message ?? '', /has not connected since the hub started/);
  });

  it('spool at or above the ratio is a warning; back-pressure is critical', () => {
    const hb = (bytes: number, backPressure: boolean) => create(HeartbeatSchema, { spoolBytes: BigInt(bytes), spoolLimitBytes: 1000n, backPressure });
    assert.deepEqual(keys(view({ sessions: new Map([['edge/db', session({ lastHeartbeat: hb(400, false) })]]) })), []);
    const half = evaluateLevelRules(view({ sessions: new Map([['edge/db', session({ lastHeartbeat: hb(500, false) })]]) }), rules).candidates;
    assert.equal(half[0]?.severity, 'warning');
    const full = evaluateLevelRules(view({ sessions: new Map([['edge/db', session({ lastHeartbeat: hb(1000, true) })]]) }), rules).candidates;
    assert.equal(full[0]?.severity, 'critical');
    assert.match(full[0]?.message ?? '', /back-pressure/);
  });

  /** The sink's measured freshness for edge/db: fresh up to `freshMs`. */
  const fresh = (freshMs: number, o: Partial<SinkWorkerStatus> = {}): SinkWorkerStatus =>
    sink({ sources: [{ source: 'edge/db', freshUntilUs: freshMs * 1000, appliedPosition: 1n, lagSeconds: null, lagBytes: null }], ...o });
  const withHeartbeats = (intervalMs: number): Map<string, AgentSession> =>
    new Map([['edge/db', session({ lastHeartbeat: create(HeartbeatSchema, { sourceHeartbeatIntervalMs: intervalMs }) })]]);

  it('lag above N must hold for M minutes; a break starts the clock again', () => {
    const behind = (now: number): HubView => view({ nowMs: now, logHead: 20, sinks: [fresh(now - 61_000, { offset: 10 })] });
    const holds = new HoldTracker();
    assert.deepEqual(holds.due(evaluateLevelRules(behind(T0), rules).candidates, T0), []);
    assert.deepEqual(holds.due(evaluateLevelRules(behind(T0 + 119_000), rules).candidates, T0 + 119_000), []);
    assert.equal(holds.due(evaluateLevelRules(behind(T0 + 120_000), rules).candidates, T0 + 120_000)[0]?.key, 'lag:dw');
    // caught up for one evaluation: the condition must hold two minutes again
    assert.deepEqual(holds.due(evaluateLevelRules(view({ nowMs: T0 + 130_000 }), rules).candidates, T0 + 130_000), []);
    assert.deepEqual(holds.due(evaluateLevelRules(behind(T0 + 140_000), rules).candidates, T0 + 140_000), []);
    // without source heartbeats, a sink that caught up with the log head has no lag (an idle source looks like this)
    assert.deepEqual(keys(view({ logHead: 10, sinks: [fresh(T0 - 3_600_000, { offset: 10 })] })), []);
    // not measured yet: nothing to say
    assert.deepEqual(keys(view({ logHead: 20, sinks: [sink({ offset: 10 })] })), []);
  });

  it('with source heartbeats the measured lag counts even when the sink caught up with the log: the source or agent stalled', () => {
    const stalled = view({ nowMs: T0, logHead: 10, sessions: withHeartbeats(10_000), sinks: [fresh(T0 - 90_000, { offset: 10 })] });
    assert.deepEqual(keys(stalled), ['lag:dw']);
    assert.match(evaluateLevelRules(stalled, rules).candidates[0]?.message ?? '', /lags 90 s/);
    // fresh through heartbeats: nothing
    assert.deepEqual(keys(view({ nowMs: T0, logHead: 10, sessions: withHeartbeats(10_000), sinks: [fresh(T0 - 4_000, { offset: 10 })] })), []);
    // the agent says its heartbeats are off (refused by the source): back to the caught-up rule
    assert.deepEqual(keys(view({ nowMs: T0, logHead: 10, sessions: withHeartbeats(0), sinks: [fresh(T0 - 90_000, { offset: 10 })] })), []);
  });

  it('a failing sink is raised after it kept failing for the threshold, with its last error', () => {
    const holds = new HoldTracker();
    const v = (now: number): HubView => view({ nowMs: now, sinks: [sink({ failing: true, lastError: 'connection refused' })] });
    assert.deepEqual(holds.due(evaluateLevelRules(v(T0), rules).candidates, T0), []);
    const due = holds.due(evaluateLevelRules(v(T0 + 10_000), rules).candidates, T0 + 10_000);
    assert.equal(due[0]?.key, 'sinkFailing:dw');
    assert.match(due[0]?.message ?? '', /connection refused/);
  });

  it('doctor findings: slot checks are "slot at risk", others "source check"; ok findings raise nothing', () => {
    const doctor = [
      {
        source: 'edge/db',
        workspace: 'acme',
        checkedAt: 'x',
        receivedAt: 'y',
        findings: [
          { check: 'wal_level', severity: 'ok' as const, message: 'fine' },
          { check: 'slot.retention', severity: 'critical' as const, message: 'slot "s" retains 60 MiB', fix: "ALTER SYSTEM SET max_slot_wal_keep_size = '128MB'" },
          { check: 'replica_identity.public.t', severity: 'critical' as const, message: 'no key' },
        ],
      },
    ];
    const c = evaluateLevelRules(view({ doctor }), rules).candidates;
    assert.deepEqual(c.map((x) => [x.rule, x.key, x.severity]), [
      ['slotAtRisk', 'slotAtRisk:edge/db:slot.retention', 'critical'],
      ['sourceCheck', 'sourceCheck:edge/db:replica_identity.public.t', 'critical'],
    ]);
    assert.match(c[0]?.message ?? '', /Fix: ALTER SYSTEM SET max_slot_wal_keep_size/);
  });

  it('a rule switched off raises nothing', () => {
    const off = parseHubConfig({ log: { path: '/x' }, alerts: { rules: { agentDisconnected: { enabled: false, seconds: 1 } } } }, {}).alerts.rules;
    assert.deepEqual(evaluateLevelRules(view({ sessions: new Map([['edge/db', session({ connected: false })]]), nowMs: T0 + 100_000 }), off).candidates, []);
  });
});
