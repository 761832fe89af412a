/** A pipeline as the API shows it: its definition, the agent's applied tables, ingest position and per-sink lag. */
import type { AgentSession } from '../ingest/ingest-server.js';
import { sourceFreshness, type SourceFreshness } from '../ingest/source-freshness.js';
import { worst } from '../sinks/freshness.js';
import type { IngestLog } from '../log/change-log.js';
import type { ApplyState } from '../pipelines/agent-push.js';
import { sourceKeyOfPipeline, type PipelineRecord } from '../pipelines/pipeline.js';
import type { SinkWorkerStatus } from '../sinks/worker.js';

export function lsn(v: bigint): string {
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

export interface ViewContext {
  readonly log: IngestLog;
  readonly sessions: ReadonlyMap<string, AgentSession>;
  readonly sinks: ReadonlyMap<string, SinkWorkerStatus>;
  readonly applied: (sourceKey: string) => ApplyState | null;
  readonly head: number;
  readonly now: number;
  /** Freshness at the hub log, per source (heartbeats and commits ingested). */
  readonly ingestLag: ReadonlyMap<string, SourceFreshness>;
}

export function viewContext(log: IngestLog, sessions: ReadonlyMap<string, AgentSession>, sinks: readonly SinkWorkerStatus[], applied: (k: string) => ApplyState | null): ViewContext {
  const now = Date.now();
  const ingestLag = new Map(sourceFreshness(sessions, log, now).map((f) => [f.source, f]));
  return { log, sessions, sinks: new Map(sinks.map((s) => [s.sink, s])), applied, head: log.headOffset(), now, ingestLag };
}

export function pipelineView(p: PipelineRecord, v: ViewContext): Record<string, unknown> {
  const key = sourceKeyOfPipeline(p);
  const cp = v.log.checkpoint(key);
  const ingest = v.ingestLag.get(key);
  const sinkRows = p.sinks.map((name) => {
    const s = v.sinks.get(name);
    // This pipeline's source as the sink sees it (freshness measured from the heartbeats and commits it applied).
    const lag = s?.sources.find((f) => f.source === key);
    return {
      name,
      offset: s?.offset ?? 0,
      lagBatches: Math.max(0, v.head - (s?.offset ?? 0)),
      lagSeconds: lag?.lagSeconds ?? null,
      lagBytes: lag?.lagBytes ?? null,
      freshUntil: lag === undefined || lag.freshUntilUs === 0 ? null : new Date(lag.freshUntilUs / 1000).toISOString(),
      lastAppliedAt: s === undefined || s.appliedAt === 0 ? null : new Date(s.appliedAt).toISOString(),
      failing: s?.failing ?? false,
      lastError: s?.lastError ?? null,
    };
  });
  return {
    name: p.name,
    agent: p.agent,
    source: p.source,
    state: p.state,
    tables: p.tables,
    origin: p.origin,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    connected: v.sessions.get(key)?.connected ?? false,
    agentTables: p.tables === null ? null : v.applied(key),
    // The pipeline is as fresh as its stalest sink (or, without sinks, as the hub log).
    lagSeconds: sinkRows.length > 0 ? worst(sinkRows.map((r) => r.lagSeconds)) : (ingest?.lagSeconds ?? null),
    lagBytes: sinkRows.length > 0 ? worst(sinkRows.map((r) => r.lagBytes)) : (ingest?.lagBytes ?? null),
    ingest: {
      ackedSequence: cp?.ackedSequence ?? 0,
      sourcePosition: cp === undefined ? null : lsn(cp.sourcePosition),
      logOffset: cp?.lastOffset ?? 0,
      lagSeconds: ingest?.lagSeconds ?? null,
      lagBytes: ingest?.lagBytes ?? null,
    },
    sinks: sinkRows,
  };
}
