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
  private readonly listeners = new Set<(c: PipelineChange) => void>();
  private readonly routeWaiters = new Set<() => void>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly store: PipelineStore | null) {}

  /**
   * Loads the stored pipelines and mirrors the configuration file's: each of
   * its pipelines takes its definition from the file at every start (keeping
   * its paused state and creation time from the store), a stored one the
   * file no longer has is removed, and a pipeline created through the API
   * under a name the file now uses is replaced by the file's (logged). With
   * a null store everything is in memory only.
   */
  static async open(store: PipelineStore | null, seed: readonly PipelineConfig[], logger?: Logger): Promise<PipelineRegistry> {
    const r = new PipelineRegistry(store);
    const stored = store?.all() ?? new Map<string, PipelineRecord>();
    const fromFile = r.fromConfig(seed, stored, logger);
    const changes: Array<[string, PipelineRecord | null]> = [];
    for (const [key, rec] of stored) if (rec.origin === 'config' && !fromFile.has(key)) changes.push([key, null]);
    for (const [key, rec] of fromFile) if (JSON.stringify(stored.get(key)) !== JSON.stringify(rec)) changes.push([key, rec]);
    if (changes.length > 0) await store?.write(changes);
    for (const [key, rec] of stored) if (rec.origin === 'api' && !fromFile.has(key)) r.live.set(key, rec);
    for (const [key, rec] of fromFile) r.live.set(key, rec);
    return r;
  }

  /** The configuration's pipelines, in memory only (nothing survives the process). */
  static inMemory(seed: readonly PipelineConfig[]): PipelineRegistry {
    const r = new PipelineRegistry(null);
    for (const [key, rec] of r.fromConfig(seed, new Map())) r.live.set(key, rec);
    return r;
  }

  private fromConfig(seed: readonly PipelineConfig[], stored: ReadonlyMap<string, PipelineRecord>, logger?: Logger): Map<string, PipelineRecord> {
    const now = new Date().toISOString();
    const out = new Map<string, PipelineRecord>();
    for (const p of seed) {
      const key = pipelineKey(p.workspace, p.name);
      const prev = stored.get(key);
      if (prev?.origin === 'api') logger?.warn('a pipeline created through the API has the name of a configuration pipeline; the configuration\'s replaces it', { pipeline: key });
      const kept = prev?.origin === 'config' ? prev : undefined;
      const definition = { agent: p.agent, source: p.source, sinks: [...p.sinks], tables: p.tables === undefined ? null : normalizeTables(p.tables) };
      const same = kept !== undefined && JSON.stringify([kept.agent, kept.source, kept.sinks, kept.tables]) === JSON.stringify([definition.agent, definition.source, definition.sinks, definition.tables]);
      out.set(key, { name: p.name, workspace: p.workspace, ...definition, state: kept?.state ?? 'active', origin: 'config', createdAt: kept?.createdAt ?? now, updatedAt: same ? (kept?.updatedAt ?? now) : now });
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
      await this.store?.write([[key, after]]);
      if (after === null) this.live.delete(key);
      else this.live.set(key, after);
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
      return { name, workspace, ...fields, sinks: [...fields.sinks], tables: fields.tables === null ? null : normalizeTables(fields.tables), state: 'active', origin: 'api', createdAt: now, updatedAt: now };
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

  delete(workspace: string, name: string, missing: () => Error, guard: (cur: PipelineRecord) => void = () => undefined): Promise<PipelineRecord> {
    return this.change(pipelineKey(workspace, name), (cur) => {
      if (cur === undefined) throw missing();
      guard(cur);
      return null;
    });
  }

  /** The live routes of one sink, for its driver. */
  routesFor(sink: string): SinkRoutes {
    const feeding = (sourceKey: string): PipelineRecord[] => this.all().filter((p) => p.sinks.includes(sink) && sourceKeyOfPipeline(p) === sourceKey);
    return {
      has: (k) => feeding(k).length > 0,
      list: () => [...new Set(this.all().filter((p) => p.sinks.includes(sink)).map(sourceKeyOfPipeline))],
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
