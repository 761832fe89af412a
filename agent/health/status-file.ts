/**
 * The agent's liveness for container health checks. The agent has no inbound
 * port (it only dials out to the hub), so instead of an HTTP probe it rewrites
 * a small JSON status file every few seconds; `tributary health --file` calls
 * the agent healthy while that file is fresh. A wedged event loop or a stopped
 * agent stops refreshing it.
 *
 * Each write goes to a temporary file that is renamed over the old one, so a
 * reader never sees a half-written file.
 */
import { rename, writeFile } from 'node:fs/promises';

export interface HealthSnapshot {
  readonly [key: string]: unknown;
}

export interface StatusFileOptions {
  readonly path: string;
  readonly intervalMs: number;
  /** Extra fields for operators (hub connection, back-pressure); they do not decide health. */
  readonly snapshot: () => HealthSnapshot;
  readonly onError: (e: unknown) => void;
}

/** The file's content: `time` is what `tributary health` checks. */
export interface StatusRecord {
  readonly time: string;
  readonly pid: number;
  readonly state: 'running' | 'stopped';
  readonly [key: string]: unknown;
}

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

export class StatusFile implements AsyncDisposable {
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: StatusFileOptions) {
    this.timer = setInterval(() => this.write('running'), options.intervalMs);
    this.timer.unref();
    this.write('running');
  }

  /** Writes one record after the previous write finished; errors go to onError, never throw. */
  private write(state: StatusRecord['state']): void {
    const record: StatusRecord = { time: new Date().toISOString(), pid: process.pid, state, ...this.options.snapshot() };
    const tmp = `${this.options.path}.tmp`;
    this.writing = this.writing
      .then(() => writeFile(tmp, `${json(record)}\n`))
      .then(() => rename(tmp, this.options.path))
      .catch(this.options.onError);
  }

  /** Stops refreshing and records `stopped`, so a checker fails at once instead of after max age. */
  async [Symbol.asyncDispose](): Promise<void> {
    clearInterval(this.timer);
    this.write('stopped');
    await this.writing;
  }
}
