/**
 * Writes a heartbeat into the source's own log on a timer, so freshness is
 * measured end to end even when no application writes anything: the
 * heartbeat is captured like any transaction, spooled, shipped and applied,
 * and each batch carries its source commit time (ChangeBatch.source_time_us).
 *
 * The write itself is the source's (PostgreSQL: pg_logical_emit_message;
 * MySQL: a heartbeat-table write). A failure the source classifies as
 * `off` (not permitted, a read-only server) switches heartbeats off for the
 * session with one warning naming the fix; any other failure is retried at
 * the next tick, logged once until a beat succeeds again.
 */
import type { Logger } from '../log.js';

export type HeartbeatFailure = { readonly off: boolean; readonly message: string; readonly fix?: string };

export interface HeartbeatWriter {
  /** Writes one heartbeat into the source log; resolves once it is committed at the source. */
  beat(): Promise<void>;
  /** What a failed beat means: `off` stops heartbeats for this session. */
  classify(cause: unknown): HeartbeatFailure;
  /** Releases the writer's connection. */
  close(): Promise<void>;
}

export interface HeartbeatTimerOptions {
  readonly intervalMs: number;
  readonly writer: HeartbeatWriter;
  readonly log: Logger;
  /** Skips a beat while true (e.g. back-pressure: the source is not being read, a beat would only add log to keep). */
  readonly paused?: () => boolean;
}

export class HeartbeatTimer {
  private beats = 0;
  private failing = false;
  private off = false;

  constructor(private readonly o: HeartbeatTimerOptions) {}

  get intervalMs(): number {
    return this.o.intervalMs;
  }

  /** Heartbeats committed at the source by this timer. */
  get count(): number {
    return this.beats;
  }

  /** True once a failure switched heartbeats off. */
  get stopped(): boolean {
    return this.off;
  }

  /** Beats every `intervalMs` until the signal aborts or heartbeats are switched off; never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    // A beat in flight when the session ends (the server unreachable, say) is cut off, so the session never waits on it.
    const cut = (): void => void this.o.writer.close().catch(() => undefined);
    signal.addEventListener('abort', cut, { once: true });
    try {
      while (!signal.aborted && !this.off) {
        await sleep(this.o.intervalMs, signal);
        if (signal.aborted) return;
        if (this.o.paused?.() === true) continue;
        await this.tick();
      }
    } finally {
      signal.removeEventListener('abort', cut);
      await this.o.writer.close().catch(() => undefined);
    }
  }

  /** One beat, with its failure handled (exported for the timer's tests). */
  async tick(): Promise<void> {
    try {
      await this.o.writer.beat();
      this.beats++;
      if (this.failing) this.o.log.info('source heartbeats are written again');
      this.failing = false;
    } catch (cause) {
      const f = this.o.writer.classify(cause);
      if (f.off) {
        this.off = true;
        this.o.log.warn('source heartbeats are off: lag is known only when rows change', { reason: f.message, ...(f.fix === undefined ? {} : { fix: f.fix }) });
        return;
      }
      if (!this.failing) this.o.log.warn('writing a source heartbeat failed; retrying at the next interval', { reason: f.message });
      this.failing = true;
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
