/**
 * The hub's event bus: things that happened which people may need to hear
 * about (a schema changed, a snapshot finished, an agent reported something).
 * Publishers: ingest (agent events), the log (new schema versions), sinks.
 * Subscribers: alerts, the API's feeds. Delivery is synchronous and in
 * publish order; a subscriber that throws is logged and does not stop the
 * others or the publisher. The bus keeps the newest `keep` events in memory
 * for `recent`; it is not a durable store (alerts persist what they need).
 *
 * Kinds in use: `schema.changed`, `schema.incompatible`, `schema.key_changed`,
 * `snapshot.finished`, `snapshot.failed`, and `agent.<kind>` for every event
 * an agent sends (`agent.snapshot.progress`, `agent.doctor.findings`,
 * `agent.command.result`, ...).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';

export type Severity = 'info' | 'warning' | 'critical';

export interface HubEvent {
  readonly id: string;
  /** ISO 8601. */
  readonly at: string;
  readonly kind: string;
  /** The workspace the event belongs to: only that workspace's tokens see it. */
  readonly workspace: string;
  /** `agent/source`, when the event concerns a source. */
  readonly source?: string | undefined;
  readonly sink?: string | undefined;
  /** `schema.table`, when the event concerns a table. */
  readonly table?: string | undefined;
  readonly severity: Severity;
  readonly message: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export type NewHubEvent = Omit<HubEvent, 'id' | 'at'> & { readonly at?: string };

export type HubEventListener = (e: HubEvent) => void;

export class HubEvents {
  private readonly listeners = new Set<HubEventListener>();
  private readonly kept: HubEvent[] = [];

  constructor(
    private readonly log: Logger,
    private readonly keep = 1000,
  ) {}

  publish(e: NewHubEvent): HubEvent {
    const event: HubEvent = { ...e, id: randomUUID(), at: e.at ?? new Date().toISOString() };
    this.kept.push(event);
    if (this.kept.length > this.keep) this.kept.shift();
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.log.error('event listener failed', { kind: event.kind, error: err });
      }
    }
    return event;
  }

  /** Calls `fn` for every event published from now on; returns the unsubscribe function. */
  subscribe(fn: HubEventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Newest first, at most `limit`, of one workspace, optionally of kinds starting with `kindPrefix`. */
  recent(workspace: string, kindPrefix = '', limit = 100): HubEvent[] {
    const out: HubEvent[] = [];
    for (let i = this.kept.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.kept[i];
      if (e !== undefined && e.workspace === workspace && e.kind.startsWith(kindPrefix)) out.push(e);
    }
    return out;
  }
}
