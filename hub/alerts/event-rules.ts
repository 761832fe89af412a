/**
 * Rules fed by the hub's event bus: schema changes, snapshots that finished
 * or failed (the agents' `snapshot.progress` events), and the doctor reports
 * agents send. Each event becomes at most a few feed actions.
 */
import type { HubEvent } from '../events/hub-events.js';
import type { Condition } from './alert.js';
import type { AlertRulesConfig } from './config.js';
import { parseDoctorPayload, type DoctorEntry } from './doctor-store.js';

/** The rules read hub events (HubEvents). */
export type BusEvent = HubEvent;

export interface EventActions {
  readonly raise: Condition[];
  /** Condition keys that cleared. */
  readonly resolve: string[];
  readonly doctor: DoctorEntry | null;
}

const NONE: EventActions = { raise: [], resolve: [], doctor: null };

function field(data: unknown, key: string): unknown {
  return data !== null && typeof data === 'object' ? (data as Record<string, unknown>)[key] : undefined;
}

function schema(e: BusEvent): EventActions {
  const table = e.table ?? (typeof field(e.data, 'table') === 'string' ? String(field(e.data, 'table')) : null);
  const what = e.kind === 'schema.incompatible' ? 'Incompatible schema change' : e.kind === 'schema.key_changed' ? 'Primary key changed' : 'Schema changed';
  return {
    ...NONE,
    raise: [
      {
        rule: 'schemaChanged',
        key: `schema:${e.id}`,
        workspace: e.workspace,
        severity: e.severity,
        title: `${what}${table === null ? '' : `: ${table}`}`,
        message: e.message,
        source: e.source ?? null,
        sink: e.sink ?? null,
        table,
        data: { event: e.kind, at: e.at },
        autoResolve: false,
        once: true,
      },
    ],
  };
}

/** An agent's own payload: ingest publishes agent events with data `{ payload, commandId, agentTimeUs }`. */
function payloadOf(e: BusEvent): unknown {
  return field(e.data, 'payload');
}

function snapshot(e: BusEvent): EventActions {
  const p = payloadOf(e);
  const state = field(p, 'state');
  const table = field(p, 'table');
  if ((state !== 'done' && state !== 'failed') || typeof table !== 'string' || e.source === undefined) return NONE;
  const startedAt = String(field(p, 'startedAt') ?? '');
  const failedKey = `snapshot:${e.source}:${table}`;
  const common = { rule: 'snapshot' as const, workspace: e.workspace, source: e.source, sink: null, table };
  if (state === 'failed') {
    const error = field(p, 'error');
    return {
      ...NONE,
      raise: [{ ...common, key: failedKey, severity: 'critical', title: `Snapshot of ${table} failed`, message: `the snapshot of ${table} on ${e.source} failed: ${typeof error === 'string' ? error : 'no reason given'}`, data: { startedAt }, autoResolve: false }],
    };
  }
  const rows = field(p, 'rowsDone');
  return {
    ...NONE,
    // A snapshot that completes (a retry, or a new run) settles an earlier failure of the same table.
    resolve: [failedKey],
    raise: [
      {
        ...common,
        key: `snapshot.done:${e.source}:${table}:${startedAt}`,
        severity: 'info',
        title: `Snapshot of ${table} finished`,
        message: `the snapshot of ${table} on ${e.source} finished${typeof rows === 'number' ? ` (${rows} rows)` : ''}`,
        data: { startedAt, rowsDone: typeof rows === 'number' ? rows : null },
        autoResolve: false,
        once: true,
      },
    ],
  };
}

export function evaluateEvent(e: BusEvent, rules: AlertRulesConfig): EventActions {
  if (e.kind === 'agent.doctor.findings') {
    const payload = parseDoctorPayload(payloadOf(e));
    if (payload === null || e.source === undefined) return NONE;
    return { ...NONE, doctor: { source: e.source, workspace: e.workspace, checkedAt: payload.checkedAt, receivedAt: e.at, findings: payload.findings } };
  }
  if (e.kind.startsWith('schema.')) return rules.schemaChanged.enabled ? schema(e) : NONE;
  if (e.kind === 'agent.snapshot.progress') return rules.snapshot.enabled ? snapshot(e) : NONE;
  return NONE;
}
