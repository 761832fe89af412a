/**
 * The in-app alert feed: raises alerts for conditions, escalates them when a
 * condition gets worse, resolves them when it clears, records
 * acknowledgements, and lists them per workspace. At most one alert per
 * condition key is unresolved at a time.
 */
import { randomBytes } from 'node:crypto';
import { HubError } from '../errors.js';
import { atLeast, type Alert, type AlertState, type Condition, type Transition } from './alert.js';
import type { AlertStore } from './alert-store.js';

export const ALERT_ID = /^[a-z0-9]{9}-[0-9a-f]{8}$/;

function newId(nowMs: number): string {
  return `${nowMs.toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
}

export class AlertFeed {
  constructor(
    private readonly store: AlertStore,
    private readonly keepResolved: number,
  ) {}

  /** The newest alert for a condition key, whatever its state. */
  current(key: string): Alert | undefined {
    const id = this.store.byKey.get(key);
    return id === undefined ? undefined : this.store.alerts.get(id);
  }

  get(id: string): Alert | undefined {
    return this.store.alerts.get(id);
  }

  /** Unresolved alerts that resolve by themselves, for the evaluator to check against current conditions. */
  unresolvedAuto(): Alert[] {
    const out: Alert[] = [];
    for (const { value } of this.store.alerts.getRange()) if (value.state !== 'resolved' && value.autoResolve) out.push(value);
    return out;
  }

  /** Newest first; `state` filters. */
  list(workspace: string, state?: AlertState, limit = 500): Alert[] {
    const out: Alert[] = [];
    for (const { value } of this.store.alerts.getRange({ reverse: true })) {
      if (value.workspace !== workspace || (state !== undefined && value.state !== state)) continue;
      out.push(value);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * A condition holds: opens an alert for it, or refreshes the unresolved
   * one (escalating it when the severity rose). A `once` condition whose key
   * was ever raised does nothing.
   */
  async raise(c: Condition, nowMs: number): Promise<Transition | null> {
    if (c.once === true && this.store.byKey.get(c.key) !== undefined) return null;
    const now = new Date(nowMs).toISOString();
    const existing = this.current(c.key);
    if (existing !== undefined && existing.state !== 'resolved') {
      const escalated = c.severity !== existing.severity && atLeast(c.severity, existing.severity);
      if (!escalated && c.message === existing.message) return null;
      const updated: Alert = { ...existing, ...c, id: existing.id, state: existing.state, updatedAt: now };
      await this.store.write(() => this.store.alerts.putSync(updated.id, updated));
      return escalated ? { type: 'alert.escalated', alert: updated } : null;
    }
    const alert: Alert = { ...c, id: newId(nowMs), state: 'open', openedAt: now, updatedAt: now, acknowledgedAt: null, resolvedAt: null };
    await this.store.write(() => {
      this.store.alerts.putSync(alert.id, alert);
      this.store.byKey.putSync(alert.key, alert.id);
    });
    return { type: 'alert.opened', alert };
  }

  /** The condition of `key` cleared: resolves its unresolved alert, if any. */
  async resolve(key: string, nowMs: number, message?: string): Promise<Transition | null> {
    const existing = this.current(key);
    if (existing === undefined || existing.state === 'resolved') return null;
    const now = new Date(nowMs).toISOString();
    const resolved: Alert = { ...existing, state: 'resolved', resolvedAt: now, updatedAt: now, ...(message === undefined ? {} : { message }) };
    await this.store.write(() => this.store.alerts.putSync(resolved.id, resolved));
    return { type: 'alert.resolved', alert: resolved };
  }

  /** A person saw it. Acknowledging twice is harmless; a resolved alert cannot be acknowledged. */
  async ack(workspace: string, id: string, nowMs: number): Promise<Alert> {
    const a = ALERT_ID.test(id) ? this.store.alerts.get(id) : undefined;
    if (a === undefined || a.workspace !== workspace) throw new HubError('not-found', `no alert ${id.slice(0, 40)}`);
    if (a.state === 'resolved') throw new HubError('conflict', `alert ${id} is already resolved`);
    if (a.state === 'acknowledged') return a;
    const now = new Date(nowMs).toISOString();
    const acked: Alert = { ...a, state: 'acknowledged', acknowledgedAt: now, updatedAt: now };
    await this.store.write(() => this.store.alerts.putSync(acked.id, acked));
    return acked;
  }

  /** Drops the oldest resolved alerts beyond `keepResolved` (their keys stay, so a `once` notification stays once). */
  async prune(): Promise<number> {
    const resolved: Alert[] = [];
    for (const { value } of this.store.alerts.getRange({ reverse: true })) if (value.state === 'resolved') resolved.push(value);
    const drop = resolved.slice(this.keepResolved);
    if (drop.length === 0) return 0;
    await this.store.write(() => {
      for (const a of drop) {
        this.store.alerts.removeSync(a.id);
        if (a.once !== true && this.store.byKey.get(a.key) === a.id) this.store.byKey.removeSync(a.key);
      }
    });
    return drop.length;
  }
}
