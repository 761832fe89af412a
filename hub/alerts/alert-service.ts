/**
 * Alerts in the hub: every `evaluateSeconds` the level rules look at the hub
 * (agents, spools, sinks, doctor reports) and the event rules react to the
 * event bus; the resulting changes go to the persisted feed and from there to
 * the webhooks. Evaluations and events are applied one at a time, in order,
 * on a chain of their own: nothing here ever runs inside, or waits for, the
 * ingest path.
 */
import { join } from 'node:path';
import type { HubEvents } from '../events/hub-events.js';
import type { Logger } from '../log.js';
import type { Transition } from './alert.js';
import { AlertFeed } from './alert-feed.js';
import { AlertStore } from './alert-store.js';
import type { AlertsConfig } from './config.js';
import { DoctorStore } from './doctor-store.js';
import { evaluateEvent, type BusEvent } from './event-rules.js';
import { evaluateLevelRules, HoldTracker, type HubView } from './level-rules.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';

export type EventBus = Pick<HubEvents, 'subscribe'>;

export interface AlertServiceOptions {
  readonly config: AlertsConfig;
  readonly hubId: string;
  /** The hub's state directory; the feed lives in `<dir>/alerts`. */
  readonly stateDir: string;
  /** The hub as it is now, minus the doctor reports (this service keeps those). */
  readonly view: () => Omit<HubView, 'doctor' | 'nowMs'>;
  readonly events: EventBus | null;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class AlertService implements AsyncDisposable {
  readonly feed: AlertFeed;
  readonly doctor = new DoctorStore();
  readonly webhooks: WebhookDispatcher;
  private readonly store: AlertStore;
  private readonly holds = new HoldTracker();
  private readonly now: () => number;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private evaluations = 0;

  constructor(private readonly options: AlertServiceOptions) {
    this.store = new AlertStore(join(options.stateDir, 'alerts'));
    this.feed = new AlertFeed(this.store, options.config.keepResolved);
    this.webhooks = new WebhookDispatcher(options.config.webhooks, options.hubId, options.logger.child('webhooks'));
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.webhooks.start();
    this.unsubscribe = this.options.events?.subscribe((e) => this.enqueue(() => this.onEvent(e))) ?? null;
    this.timer = setInterval(() => this.enqueue(() => this.evaluate()), this.options.config.evaluateSeconds * 1000);
  }

  /** Runs `step` after every earlier one; a failure is logged and never stops the chain. */
  private enqueue(step: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(step).catch((e: unknown) => this.options.logger.error('alert evaluation failed', { error: e }));
    return this.chain;
  }

  private publish(t: Transition | null): void {
    if (t === null) return;
    const a = t.alert;
    this.options.logger.info(t.type === 'alert.resolved' ? 'alert resolved' : 'alert raised', { alert: a.id, rule: a.rule, key: a.key, severity: a.severity, type: t.type });
    this.webhooks.send(t);
  }

  /** One pass of the level rules (also what the timer runs). */
  evaluateNow(): Promise<void> {
    return this.enqueue(() => this.evaluate());
  }

  private async evaluate(): Promise<void> {
    const nowMs = this.now();
    const view: HubView = { ...this.options.view(), doctor: this.doctor.all(), nowMs };
    const { candidates, undecided } = evaluateLevelRules(view, this.options.config.rules);
    for (const { holdMs: _, ...c } of this.holds.due(candidates, nowMs)) this.publish(await this.feed.raise(c, nowMs));
    const holding = new Set([...candidates.map((c) => c.key), ...undecided]);
    for (const a of this.feed.unresolvedAuto()) if (!holding.has(a.key)) this.publish(await this.feed.resolve(a.key, nowMs));
    if (++this.evaluations % 360 === 0) await this.feed.prune();
  }

  private async onEvent(e: BusEvent): Promise<void> {
    const actions = evaluateEvent(e, this.options.config.rules);
    const nowMs = this.now();
    if (actions.doctor !== null) this.doctor.put(actions.doctor);
    for (const key of actions.resolve) this.publish(await this.feed.resolve(key, nowMs));
    for (const c of actions.raise) this.publish(await this.feed.raise(c, nowMs));
  }

  /** Applies one event now (the bus calls this through start()). */
  handleEvent(e: BusEvent): Promise<void> {
    return this.enqueue(() => this.onEvent(e));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.unsubscribe?.();
    await this.chain;
    await this.webhooks.close();
    await this.store[Symbol.asyncDispose]();
  }
}
