/**
 * A sink whose module loads on first open(): the DuckDB and Snowflake
 * drivers take seconds to load on a busy machine, and a hub that restarts
 * (or has no such sink) should not wait for them before accepting agents.
 */
import type { FlushPolicy, Sink, SinkBatch } from './sink.js';

export class DeferredSink implements Sink {
  private inner: Sink | null = null;

  constructor(
    readonly name: string,
    readonly flush: FlushPolicy,
    private readonly load: () => Promise<Sink>,
  ) {}

  async open(signal: AbortSignal): Promise<bigint | null> {
    this.inner ??= await this.load();
    return this.inner.open(signal);
  }

  /** Only called after open() resolved (the worker opens first). */
  async write(batch: SinkBatch, signal: AbortSignal): Promise<void> {
    this.inner ??= await this.load();
    return this.inner.write(batch, signal);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.inner?.[Symbol.asyncDispose]();
  }
}
