/**
 * Pushes each source's captured-table set to its agent as the command
 * `pipeline.apply { tables }`: after every pipeline change that alters the
 * set, and whenever the agent's stream (re)connects. The agent answers with
 * `command.result`; the answer is kept as the source's applied state, shown
 * by the API. Nothing here is durable: a hub restart re-pushes on connect.
 */
import type { Logger } from '../log.js';
import type { PipelineRegistry } from './pipeline-registry.js';
import { sourceKeyOfPipeline } from './pipeline.js';

/** The hub → agent command channel (IngestServer.sendCommand). */
export interface CommandChannel {
  /** The command id, or null when the source's agent is not connected. */
  sendCommand(sourceKey: string, kind: string, payload: unknown): string | null;
}

/** What this module reads from the hub's event bus. */
export interface AgentEvent {
  readonly kind: string;
  readonly source?: string | undefined;
  readonly data: unknown;
}

export interface EventFeed {
  subscribe(fn: (e: AgentEvent) => void): () => void;
}

export interface ConnectedSession {
  readonly connected: boolean;
  readonly connectedAt: Date;
}

export interface ApplyState {
  readonly tables: readonly string[];
  /** pending: sent, no answer yet; applied / failed: the agent's answer; not-connected: waits for the agent. */
  readonly status: 'pending' | 'applied' | 'failed' | 'not-connected';
  readonly commandId: string | null;
  readonly sentAt: string | null;
  readonly answeredAt: string | null;
  readonly error: string | null;
  /** What the agent reported it applied (its own words: e.g. the publication's tables). */
  readonly result: unknown;
  /** Tables newly included by this set for which `snapshot.start` was sent (their initial load). */
  readonly snapshots: readonly string[];
}

export const PIPELINE_APPLY = 'pipeline.apply';
const TABLE = /^[A-Za-z0-9_$]{1,63}\.[A-Za-z0-9_$]{1,63}$/;

export class PipelinePush {
  private readonly states = new Map<string, ApplyState>();
  private readonly pushedFor = new Map<string, number>();

  constructor(
    private readonly registry: PipelineRegistry,
    private readonly channel: CommandChannel,
    private readonly sessions: () => ReadonlyMap<string, ConnectedSession>,
    private readonly logger: Logger,
    private readonly retryFailedMs = 30_000,
  ) {}

  /** Starts following pipeline changes, answers and connections; returns the stop function. */
  start(feed: EventFeed | null, pollMs = 500): () => void {
    const offChange = this.registry.onChange((c) => {
      for (const p of [c.before, c.after]) if (p !== null && (c.before?.tables !== c.after?.tables || c.kind !== 'updated')) this.push(sourceKeyOfPipeline(p));
    });
    const offFeed = feed?.subscribe((e) => this.answer(e)) ?? (() => undefined);
    // A (re)connected stream gets the current set even if nothing changed at the hub meanwhile.
    const timer = setInterval(() => this.onConnections(), pollMs);
    timer.unref();
    return () => {
      clearInterval(timer);
      offChange();
      offFeed();
    };
  }

  state(sourceKey: string): ApplyState | null {
    return this.states.get(sourceKey) ?? null;
  }

  /** Sends the source's current set (when some pipeline names tables); records what happened. */
  push(sourceKey: string): void {
    const tables = this.registry.tablesForSource(sourceKey);
    if (tables === null) {
      this.states.delete(sourceKey);
      return;
    }
    const id = this.channel.sendCommand(sourceKey, PIPELINE_APPLY, { tables });
    const session = this.sessions().get(sourceKey);
    if (id !== null && session !== undefined) this.pushedFor.set(sourceKey, session.connectedAt.getTime());
    this.states.set(sourceKey, { tables, status: id === null ? 'not-connected' : 'pending', commandId: id, sentAt: id === null ? null : new Date().toISOString(), answeredAt: null, error: null, result: null, snapshots: [] });
    this.logger.info(id === null ? 'pipeline tables wait for the agent to connect' : 'pipeline tables pushed to the agent', { source: sourceKey, tables, command: id });
  }

  private onConnections(): void {
    const now = Date.now();
    for (const [key, s] of this.sessions()) {
      if (!s.connected || this.registry.tablesForSource(key) === null) continue;
      const st = this.states.get(key);
      // A refusal may be passing (the source database was down): ask again now and then.
      const retry = st?.status === 'failed' && now - Date.parse(st.answeredAt ?? '') >= this.retryFailedMs;
      if (this.pushedFor.get(key) !== s.connectedAt.getTime() || retry) this.push(key);
    }
  }

  /** `agent.command.result` on the bus: data `{ payload: { id, ok, result?, error? }, commandId }`. */
  private answer(e: AgentEvent): void {
    if (e.kind !== 'agent.command.result' || e.source === undefined) return;
    const cur = this.states.get(e.source);
    const data = e.data as { payload?: unknown; commandId?: unknown } | null;
    const d = (data?.payload ?? null) as { id?: unknown; ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } } | null;
    if (cur === undefined || d === null || typeof d !== 'object' || (d.id ?? data?.commandId) !== cur.commandId) return;
    const ok = d.ok === true;
    const error = ok ? null : `${String(d.error?.code ?? 'COMMAND_FAILED')}: ${String(d.error?.message ?? 'the agent refused the tables')}`;
    const snapshots = ok ? this.initialLoads(e.source, d.result) : [];
    this.states.set(e.source, { ...cur, status: ok ? 'applied' : 'failed', answeredAt: new Date().toISOString(), error, result: d.result ?? null, snapshots });
    if (!ok) this.logger.warn('the agent could not apply the pipeline tables', { source: e.source, error });
  }

  /**
   * A table the set newly includes gets its initial load: `snapshot.start`
   * for each exact `schema.table` the agent reported as added (a `schema.*`
   * pattern names no table the hub knows). An agent without a snapshot
   * engine answers UNKNOWN_COMMAND, which changes nothing.
   */
  private initialLoads(sourceKey: string, result: unknown): string[] {
    const added = (result as { added?: unknown } | null)?.added;
    if (!Array.isArray(added)) return [];
    const tables = added.filter((t): t is string => typeof t === 'string' && TABLE.test(t));
    for (const table of tables) this.channel.sendCommand(sourceKey, 'snapshot.start', { table });
    if (tables.length > 0) this.logger.info('initial snapshots requested for newly included tables', { source: sourceKey, tables });
    return tables;
  }
}
