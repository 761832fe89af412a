/**
 * An alert in the feed. Lifecycle: open → acknowledged (a person saw it) →
 * resolved. Alerts about a condition (lag, a disconnected agent, a failing
 * sink, ...) resolve by themselves when it clears; notifications (a schema
 * change, a finished snapshot) stay until acknowledged.
 */
export type Severity = 'info' | 'warning' | 'critical';
export type AlertState = 'open' | 'acknowledged' | 'resolved';
export type RuleName = 'lag' | 'agentDisconnected' | 'sinkFailing' | 'spoolFilling' | 'slotAtRisk' | 'sourceCheck' | 'schemaChanged' | 'snapshot';

/** Something a rule found: raised as an alert, or matched to the alert already open for its key. */
export interface Condition {
  readonly rule: RuleName;
  /** Identifies the condition: at most one alert per key is open at a time. */
  readonly key: string;
  readonly workspace: string;
  readonly severity: Severity;
  readonly title: string;
  readonly message: string;
  readonly source: string | null;
  readonly sink: string | null;
  readonly table: string | null;
  readonly data: Record<string, unknown>;
  /** True: resolves when the condition clears. False: a notification, open until acknowledged. */
  readonly autoResolve: boolean;
  /** A notification raised at most once per key, ever (a re-sent event must not notify twice). */
  readonly once?: boolean;
}

export interface Alert extends Condition {
  readonly id: string;
  readonly state: AlertState;
  readonly openedAt: string;
  readonly updatedAt: string;
  readonly acknowledgedAt: string | null;
  readonly resolvedAt: string | null;
}

/** A change worth telling a webhook about. */
export interface Transition {
  readonly type: 'alert.opened' | 'alert.escalated' | 'alert.resolved';
  readonly alert: Alert;
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export function atLeast(s: Severity, min: Severity): boolean {
  return RANK[s] >= RANK[min];
}
