/**
 * Rules about conditions that hold for a while: a disconnected agent, a
 * filling spool, sink lag, a failing sink, and doctor findings (slot at risk,
 * other source checks). Each evaluation looks at the hub as it is now and
 * returns candidates, each with how long it must hold before it is raised;
 * the evaluator remembers since when.
 */
import type { PipelineConfig } from '../config.js';
import type { AgentSession } from '../ingest/ingest-server.js';
import type { SinkWorkerStatus } from '../sinks/worker.js';
import type { Condition } from './alert.js';
import type { AlertRulesConfig } from './config.js';
import type { DoctorEntry } from './doctor-store.js';
import { sinkLagSeconds } from './lag.js';

export interface HubView {
  readonly nowMs: number;
  /** When this hub process started: a pipeline's agent gets that long to connect before it counts as disconnected. */
  readonly startedAtMs: number;
  readonly sessions: ReadonlyMap<string, AgentSession>;
  readonly pipelines: readonly PipelineConfig[];
  readonly sinks: readonly SinkWorkerStatus[];
  /** Workspace of each sink by name. */
  readonly sinkWorkspaces: ReadonlyMap<string, string>;
  readonly logHead: number;
  readonly doctor: readonly DoctorEntry[];
}

export interface Candidate extends Condition {
  /** How long the condition must hold before it is raised. */
  readonly holdMs: number;
}

export interface LevelResult {
  readonly candidates: Candidate[];
  /** Keys whose state is not known yet (e.g. just after a hub restart): their open alerts stay open. */
  readonly undecided: ReadonlySet<string>;
}

function base(rule: Condition['rule'], key: string, workspace: string): Pick<Condition, 'rule' | 'key' | 'workspace' | 'source' | 'sink' | 'table' | 'autoResolve'> {
  return { rule, key, workspace, source: null, sink: null, table: null, autoResolve: true };
}

function disconnected(v: HubView, seconds: number, out: Candidate[], undecided: Set<string>): void {
  const limitMs = seconds * 1000;
  const down = new Map<string, { workspace: string; sinceMs: number; seen: boolean }>();
  for (const [key, s] of v.sessions) if (!s.connected) down.set(key, { workspace: s.workspace, sinceMs: s.lastSeen.getTime(), seen: true });
  for (const p of v.pipelines) {
    const key = `${p.agent}/${p.source}`;
    if (!v.sessions.has(key)) down.set(key, { workspace: p.workspace, sinceMs: v.startedAtMs, seen: false });
  }
  for (const [key, d] of down) {
    const forMs = v.nowMs - d.sinceMs;
    const k = `agentDisconnected:${key}`;
    if (forMs <= limitMs) {
      undecided.add(k);
      continue;
    }
    const agent = key.slice(0, key.indexOf('/'));
    out.push({
      ...base('agentDisconnected', k, d.workspace),
      source: key,
      severity: 'critical',
      title: `Agent ${agent} disconnected`,
      message: d.seen
        ? `agent ${agent} (source ${key}) has been disconnected since ${new Date(d.sinceMs).toISOString()}`
        : `agent ${agent} (source ${key}) has not connected since the hub started at ${new Date(d.sinceMs).toISOString()}`,
      data: { since: new Date(d.sinceMs).toISOString() },
      holdMs: 0,
    });
  }
}

function spool(v: HubView, ratio: number, out: Candidate[]): void {
  for (const [key, s] of v.sessions) {
    const hb = s.lastHeartbeat;
    if (!s.connected || hb === null) continue;
    const bytes = Number(hb.spoolBytes);
    const limit = Number(hb.spoolLimitBytes);
    const share = limit > 0 ? bytes / limit : 0;
    if (!hb.backPressure && share < ratio) continue;
    out.push({
      ...base('spoolFilling', `spoolFilling:${key}`, s.workspace),
      source: key,
      severity: hb.backPressure ? 'critical' : 'warning',
      title: hb.backPressure ? `Agent ${s.agentId} stopped reading its source: spool full` : `Agent ${s.agentId} spool ${Math.round(share * 100)}% full`,
      message: `spool of ${key} holds ${bytes} of ${limit} bytes (${Math.round(share * 100)}%)${hb.backPressure ? '; back-pressure: the agent stopped reading the source until the hub drains the spool' : ''}`,
      data: { spoolBytes: bytes, spoolLimitBytes: limit, backPressure: hb.backPressure },
      holdMs: 0,
    });
  }
}

function sinks(v: HubView, rules: AlertRulesConfig, out: Candidate[]): void {
  for (const s of v.sinks) {
    const workspace = v.sinkWorkspaces.get(s.sink) ?? 'default';
    const lag = sinkLagSeconds(s, v.logHead, v.nowMs, v.sessions);
    if (rules.lag.enabled && lag > rules.lag.seconds)
      out.push({
        ...base('lag', `lag:${s.sink}`, workspace),
        sink: s.sink,
        severity: 'warning',
        title: `Sink ${s.sink} is ${Math.round(lag)} s behind`,
        message: `sink ${s.sink} lags ${Math.round(lag)} s behind its sources (threshold ${rules.lag.seconds} s for ${rules.lag.minutes} min)`,
        data: { lagSeconds: Math.round(lag), thresholdSeconds: rules.lag.seconds },
        holdMs: rules.lag.minutes * 60_000,
      });
    if (rules.sinkFailing.enabled && s.failing)
      out.push({
        ...base('sinkFailing', `sinkFailing:${s.sink}`, workspace),
        sink: s.sink,
        severity: 'critical',
        title: `Sink ${s.sink} is failing`,
        message: `writes to sink ${s.sink} keep failing: ${s.lastError ?? 'unknown error'}`,
        data: { lastError: s.lastError },
        holdMs: rules.sinkFailing.seconds * 1000,
      });
  }
}

function doctor(v: HubView, rules: AlertRulesConfig, out: Candidate[]): void {
  for (const e of v.doctor)
    for (const f of e.findings) {
      if (f.severity === 'ok') continue;
      const slot = f.check === 'slot' || f.check.startsWith('slot.');
      if (slot ? !rules.slotAtRisk.enabled : !rules.sourceCheck.enabled) continue;
      const rule = slot ? 'slotAtRisk' : 'sourceCheck';
      out.push({
        ...base(rule, `${rule}:${e.source}:${f.check}`, e.workspace),
        source: e.source,
        severity: f.severity,
        title: slot ? `Replication slot at risk on ${e.source}` : `Source check ${f.check} failed on ${e.source}`,
        message: f.fix === undefined ? f.message : `${f.message}. Fix: ${f.fix}`,
        data: { check: f.check, checkedAt: e.checkedAt, ...(f.fix === undefined ? {} : { fix: f.fix }) },
        holdMs: 0,
      });
    }
}

export function evaluateLevelRules(v: HubView, rules: AlertRulesConfig): LevelResult {
  const candidates: Candidate[] = [];
  const undecided = new Set<string>();
  if (rules.agentDisconnected.enabled) disconnected(v, rules.agentDisconnected.seconds, candidates, undecided);
  if (rules.spoolFilling.enabled) spool(v, rules.spoolFilling.ratio, candidates);
  sinks(v, rules, candidates);
  doctor(v, rules, candidates);
  return { candidates, undecided };
}

/**
 * Remembers since when each candidate holds, so "lag above N for M minutes"
 * raises only after M minutes without a break.
 */
export class HoldTracker {
  private readonly since = new Map<string, number>();

  /** The candidates that held long enough; forgets the keys that no longer hold. */
  due(candidates: readonly Candidate[], nowMs: number): Candidate[] {
    const present = new Set(candidates.map((c) => c.key));
    for (const k of this.since.keys()) if (!present.has(k)) this.since.delete(k);
    return candidates.filter((c) => {
      const since = this.since.get(c.key) ?? nowMs;
      this.since.set(c.key, since);
      return nowMs - since >= c.holdMs;
    });
  }
}
