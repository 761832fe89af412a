/**
 * The hub's pipelines: an in-memory view over the pipeline store, changed
 * only through this class (one change at a time, durable before it is
 * visible). Sink drivers read their routes from it on every batch, ingest
 * asks it which workspaces name an agent, and listeners (the agent push)
 * hear every change after it is durable.
 */
import type { PipelineConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { SinkRoutes } from '../sinks/routes.js';
import { normalizeTables, pipelineKey, sourceKeyOfPipeline, type PipelineRecord, type PipelineState } from './pipeline.js';
import type { PipelineStore } from './pipeline-store.js';

export interface PipelineChange {
  readonly kind: 'created' | 'updated' | 'deleted';
  readonly before: PipelineRecord | null;
  readonly after: PipelineRecord | null;
}

export interface PipelineFields {
  readonly agent: string;
  readonly source: string;
  readonly sinks: readonly string[];
  readonly tables: readonly string[] | null;
}

export class PipelineRegistry {
  private readonly live = new Map<string, PipelineRecord>();
  private readonly tombstones = new Set<string>();
  private readonly listeners = new Set<(c: PipelineChange) => void>();
  private readonly routeWaiters = new Set<() => void>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly store: PipelineStore | null) {}

  /**
   * Loads the stored pipelines and seeds configuration pipelines not stored
   * yet (a stored one, possibly changed through the API, wins; a deleted one
   * stays deleted). With a null store everything is in memory only.
   */
  static async open(store: PipelineStore | null, seed: readonly PipelineConfig[], logger?: Logger): Promise<PipelineRegistry> {
    const r = new PipelineRegistry(store);
    for (const [key, rec] of store?.all() ?? []) {
      if (rec.deletedAt === null) r.live.set(key, rec);
      else r.tombstones.add(key);
    }
    const seeded = r.unseeded(seed, logger);
    if (seeded.length > 0) await store?.write(seeded);
    for (const [key, rec] of seeded) r.live.set(key, rec);
    return r;
  }

  /** The configuration's pipelines, in memory only (nothing survives the process). */
  static inMemory(seed: readonly PipelineConfig[]): PipelineRegistry {
    const r = new PipelineRegistry(null);
    for (const [key, rec] of r.unseeded(seed)) r.live.set(key, rec);
    return r;
  }

  private unseeded(seed: readonly PipelineConfig[], logger?: Logger): Array<[string, PipelineRecord]> {
    const now = new Date().toISOString();
    const out: Array<[string, PipelineRecord]> = [];
    for (const p of seed) {
      const key = pipelineKey(p.workspace, p.name);
      const stored = this.live.get(key);
      if (stored !== undefined || this.tombstones.has(key)) {
        if (stored !== undefined && (stored.agent !== p.agent || stored.source !== p.source || stored.sinks.join(',') !== p.sinks.join(',')))
          logger?.warn('pipeline differs from the configuration file; the stored definition (changed through the API) is used', { pipeline: key });
        continue;
      }
      out.push([key, { name: p.name, workspace: p.workspace, agent: p.agent, source: p.source, sinks: [...p.sinks], tables: p.tables === undefined ? null : normalizeTables(p.tables), state: 'active', origin: 'config', createdAt: now, updatedAt: now, deletedAt: null }]);
    }
    return out;
  }

  list(workspace: string): PipelineRecord[] {
    return [...this.live.values()].filter((p) => p.workspace === workspace);
  }

  all(): PipelineRecord[] {
    return [...this.live.values()];
  }

  get(workspace: string, name: string): PipelineRecord | undefined {
    return this.live.get(pipelineKey(workspace, name));
  }

  /** Workspaces of the pipelines naming an agent (ingest refuses an agent named by another workspace). */
  workspacesOfAgent(agentId: string): string[] {
    return [...new Set(this.all().filter((p) => p.agent === agentId).map((p) => p.workspace))];
  }

  /**
   * The tables an agent's source should capture: the union over its
   * pipelines that name tables (paused ones too: a paused pipeline resumes
   * where it stopped, so its changes keep being captured). null when none does.
   */
  tablesForSource(sourceKey: string): string[] | null {
    const named = this.all().filter((p) => sourceKeyOfPipeline(p) === sourceKey && p.tables !== null);
    return named.length === 0 ? null : normalizeTables(named.flatMap((p) => p.tables ?? []));
  }

  onChange(fn: (c: PipelineChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Runs one change at a time: `fn` sees the current state and returns the
   * new record for `key` (or null to delete); it is durable before the view
   * and the listeners see it.
   */
  private change(key: string, fn: (current: PipelineRecord | undefined) => PipelineRecord | null): Promise<PipelineRecord> {
    const run = this.queue.then(async () => {
      const before = this.live.get(key);
      const after = fn(before);
      const out = after ?? before;
      if (out === undefined) throw new Error('a pipeline change produced nothing');
      const tombstone = after === null && before?.origin === 'config' ? { ...before, deletedAt: new Date().toISOString() } : null;
      await this.store?.write([[key, after ?? tombstone]]);
      if (after === null) this.live.delete(key);
      else this.live.set(key, after);
      if (tombstone !== null) this.tombstones.add(key);
      const change: PipelineChange = { kind: before === undefined ? 'created' : after === null ? 'deleted' : 'updated', before: before ?? null, after };
      for (const l of this.listeners) l(change);
      for (const w of [...this.routeWaiters]) w();
      return out;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  create(workspace: string, name: string, fields: PipelineFields, guard: (existing: PipelineRecord | undefined) => void): Promise<PipelineRecord> {
    return this.change(pipelineKey(workspace, name), (cur) => {
      guard(cur);
      const now = new Date().toISOString();
      return { name, workspace, ...fields, sinks: [...fields.sinks], tables: fields.tables === null ? null : normalizeTables(fields.tables), state: 'active', origin: 'api', createdAt: now, updatedAt: now, deletedAt: null };
    });
  }

  update(workspace: string, name: string, patch: (cur: PipelineRecord) => Partial<Pick<PipelineRecord, 'sinks' | 'tables' | 'state'>>, missing: () => Error): Promise<PipelineRecord> {
    return this.change(pipelineKey(workspace, name), (cur) => {
      if (cur === undefined) throw missing();
      const p = patch(cur);
      const tables = p.tables === undefined ? cur.tables : p.tables === null ? null : normalizeTables(p.tables);
      return { ...cur, ...p, tables, updatedAt: new Date().toISOString() };
    });
  }

  setState(workspace: string, name: string, state: PipelineState, missing: () => Error): Promise<PipelineRecord> {
    return this.update(workspace, name, () => ({ state }), missing);
  }

  delete(workspace: string, name: string, missing: () => Error): Promise<PipelineRecord> {
    return this.change(pipelineKey(workspace, name), (cur) => {
      if (cur === undefined) throw missing();
      return null;
    });
  }

  /** The live routes of one sink, for its driver. */
  routesFor(sink: string): SinkRoutes {
    const feeding = (sourceKey: string): PipelineRecord[] => this.all().filter((p) => p.sinks.includes(sink) && sourceKeyOfPipeline(p) === sourceKey);
    return {
      has: (k) => feeding(k).length > 0,
      held: (k) => {
        const f = feeding(k);
        return f.length > 0 && f.every((p) => p.state === 'paused');
      },
      changed: (signal) =>
        new Promise<void>((resolve) => {
          const done = (): void => {
            this.routeWaiters.delete(done);
            signal.removeEventListener('abort', done);
            resolve();
          };
          this.routeWaiters.add(done);
          signal.addEventListener('abort', done, { once: true });
        }),
    };
  }
}
