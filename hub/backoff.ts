/** Exponential, jittered, capped, abortable delays for every retry loop in the hub. */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly options: BackoffOptions = { initialMs: 200, maxMs: 30_000 }) {}

  reset(): void {
    this.attempt = 0;
  }

  /** The next delay: full jitter over an exponentially growing cap. */
  nextDelay(): number {
    const cap = Math.min(this.options.maxMs, this.options.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(cap / 2 + (Math.random() * cap) / 2);
  }

  /** Sleeps for the next delay; resolves early (without throwing) when the signal aborts. */
  wait(signal: AbortSignal): Promise<void> {
    return sleep(this.nextDelay(), signal);
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
