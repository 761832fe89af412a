/**
 * Runs a source's snapshot chunk reads (chunk-reader.ts) in a worker thread:
 * reading COPY output and converting it costs about as much per row as the
 * rest of the agent's work on that row, and on a second core it runs beside
 * the capture instead of in turn with it. Requests are answered in order;
 * a worker that dies fails its pending reads (retryable: the engine reads the
 * chunk again) and is started again on the next read. Where no worker thread
 * can start at all, reads run in-process, with a warning.
 */
import { Worker } from 'node:worker_threads';
import type pg from 'pg';
import { AgentError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ChunkKey, KeyedTable } from '../../snapshot/snapshot-source.js';
import { ChunkReader, type RawChunk } from './chunk-reader.js';
import type { ChunkReply, ChunkRequest } from './chunk-worker.js';

/**
 * The worker's first code (CommonJS, evaluated): from a source checkout the
 * TypeScript entry needs tsx's loader registered in the thread first (it is
 * registered programmatically in the main thread, which workers do not inherit).
 */
const BOOT = `const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.loader !== null) (await import(workerData.loader)).register();
  await import(workerData.entry);
})();`;

function entry(): { entry: string; loader: string | null } {
  const source = import.meta.url.endsWith('.ts');
  return {
    entry: new URL(source ? './chunk-worker.ts' : './chunk-worker.js', import.meta.url).href,
    loader: source ? import.meta.resolve('tsx/esm/api') : null,
  };
}

interface Pending {
  resolve(c: RawChunk): void;
  reject(e: AgentError): void;
}

export class ChunkWorkerPool {
  private worker: Worker | null = null;
  private answered = false;
  private inProcess: ChunkReader | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(
    private readonly client: pg.ClientConfig,
    private readonly log: Logger,
  ) {}

  /** Starts the worker thread ahead of the first read (its start-up is not free: modules load in the thread). */
  warm(): void {
    if (this.inProcess === null) this.start();
  }

  read(table: KeyedTable, after: ChunkKey | null, limit: number): Promise<RawChunk> {
    if (this.inProcess !== null) return this.inProcess.read(table, after, limit);
    const w = this.start();
    return new Promise<RawChunk>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, table, after, limit } satisfies ChunkRequest);
    });
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    // The process's flags, less one that only applies to an evaluated main script.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    const w = new Worker(BOOT, { eval: true, execArgv, workerData: { role: 'tributary-chunk-reader', client: this.client, ...entry() } });
    w.unref();
    w.on('message', (m: ChunkReply) => {
      this.answered = true;
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.chunk);
      else p.reject(new AgentError(m.kind, m.message));
    });
    w.on('error', (e) => this.lost(w, e));
    w.on('exit', (code) => this.lost(w, new Error(`exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  private lost(w: Worker, cause: Error): void {
    if (this.worker !== w) return;
    this.worker = null;
    if (!this.answered) {
      // It never answered: worker threads cannot run here. Read in-process from now on.
      this.log.warn('snapshot reads run in the capture thread: their worker thread could not start', { error: cause.message });
      this.inProcess = new ChunkReader(this.client);
    }
    const err = new AgentError('source-unavailable', `the snapshot reader thread stopped: ${cause.message}`, { cause });
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(new AgentError('source-unavailable', 'shutting down'));
    this.pending.clear();
    await w?.terminate();
    await this.inProcess?.close();
  }
}
