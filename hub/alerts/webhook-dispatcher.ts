/**
 * Sends alert transitions to webhooks without ever holding up the caller:
 * `send` only queues. Each webhook has its own queue and sender, so a slow or
 * failing receiver delays only its own deliveries, in order. A delivery is
 * retried with jittered exponential backoff after a network error, a timeout,
 * 429 or 5xx, up to `maxAttempts`; another 4xx is the receiver refusing the
 * request and is not retried. Queues are in memory and bounded (the oldest is
 * dropped, loudly): the feed, not the webhook, is the record.
 */
import { Backoff, sleep } from '../backoff.js';
import { deadlineSignal } from '../deadline.js';
import type { Logger } from '../log.js';
import { atLeast, type Transition } from './alert.js';
import type { WebhookConfig } from './config.js';
import { jsonPayload, slackPayload } from './webhook-payload.js';

const MAX_QUEUE = 1000;

export type DeliveryResult = 'delivered' | 'refused' | 'gave-up' | 'dropped';

interface Hook {
  readonly config: WebhookConfig;
  readonly queue: Transition[];
  wake: (() => void) | null;
  running: Promise<void> | null;
}

export class WebhookDispatcher {
  private readonly hooks: Hook[];
  private readonly stop = new AbortController();
  /** Per webhook name and result, for tests and the log. */
  readonly counts = new Map<string, number>();

  constructor(
    webhooks: readonly WebhookConfig[],
    private readonly hubId: string,
    private readonly logger: Logger,
  ) {
    this.hooks = webhooks.map((config) => ({ config, queue: [], wake: null, running: null }));
  }

  start(): void {
    for (const h of this.hooks) h.running ??= this.loop(h);
  }

  /** Queues `t` for every webhook it matches (severity, workspace); returns at once. */
  send(t: Transition): void {
    for (const h of this.hooks) {
      const c = h.config;
      if (!atLeast(t.alert.severity, c.minSeverity) || (c.workspace !== null && c.workspace !== t.alert.workspace)) continue;
      if (h.queue.length >= MAX_QUEUE) {
        const dropped = h.queue.shift();
        this.count(c.name, 'dropped');
        this.logger.warn('webhook queue full; dropped the oldest alert delivery', { webhook: c.name, alert: dropped?.alert.id });
      }
      h.queue.push(t);
      h.wake?.();
    }
  }

  private count(name: string, result: DeliveryResult): void {
    const k = `${name}:${result}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  private async loop(h: Hook): Promise<void> {
    const signal = this.stop.signal;
    signal.addEventListener('abort', () => h.wake?.(), { once: true });
    while (!signal.aborted) {
      const next = h.queue.shift();
      if (next === undefined) {
        await new Promise<void>((resolve) => {
          h.wake = resolve;
        });
        h.wake = null;
        continue;
      }
      const result = await this.deliver(h.config, next, signal);
      this.count(h.config.name, result);
    }
  }

  private body(c: WebhookConfig, t: Transition): string {
    return JSON.stringify(c.kind === 'slack' ? slackPayload(t, this.hubId) : jsonPayload(t, this.hubId, new Date().toISOString()));
  }

  private async deliver(c: WebhookConfig, t: Transition, signal: AbortSignal): Promise<DeliveryResult> {
    const backoff = new Backoff({ initialMs: c.backoffMs, maxMs: c.maxBackoffMs });
    const fields = { webhook: c.name, alert: t.alert.id, type: t.type };
    for (let attempt = 1; attempt <= c.maxAttempts && !signal.aborted; attempt++) {
      let reason: string;
      const wait = deadlineSignal(signal, c.timeoutMs);
      try {
        const res = await fetch(c.url.reveal(), {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'tributary-hub' },
          body: this.body(c, t),
          signal: wait.signal,
          redirect: 'error',
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) {
          this.logger.info('alert delivered to webhook', { ...fields, attempt });
          return 'delivered';
        }
        if (res.status !== 429 && res.status < 500) {
          this.logger.error('webhook refused the alert; not retrying (check its URL and token)', { ...fields, status: res.status });
          return 'refused';
        }
        reason = `HTTP ${res.status}`;
      } catch (e) {
        if (signal.aborted) break;
        // Never log the error's text: fetch errors can repeat the URL, which may hold a token.
        reason = e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${c.timeoutMs} ms` : `network error (${(e as { cause?: { code?: unknown } }).cause?.code ?? (e as Error).name})`;
      } finally {
        wait.clear();
      }
      if (attempt < c.maxAttempts) {
        this.logger.warn('webhook delivery failed; retrying', { ...fields, attempt, reason });
        await backoff.wait(signal);
      } else this.logger.error('webhook delivery failed; giving up', { ...fields, attempts: attempt, reason });
    }
    return 'gave-up';
  }

  /** Waits until every queue is empty (tests, shutdown with a deadline). */
  async idle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.stop.signal.aborted) {
      if (this.hooks.every((h) => h.queue.length === 0 && h.wake !== null)) return true;
      await sleep(20, this.stop.signal);
    }
    return false;
  }

  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all(this.hooks.map((h) => h.running));
  }
}
