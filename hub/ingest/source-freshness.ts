/**
 * Freshness of each source at the hub log (before any sink): how far the
 * newest batch durable in the log is behind the source, in seconds (now −
 * the source time of its newest commit or heartbeat) and in source-log bytes
 * (the server's log end, from the agent's heartbeats, − the checkpointed
 * source position). Sink freshness (sinks/freshness.ts) adds each sink's own
 * delay on top.
 */
import type { IngestLog } from '../log/change-log.js';
import type { HubMetrics } from '../metrics.js';
import { positionBytes, type ServerPositions } from '../sinks/freshness.js';
import type { AgentSession } from './ingest-server.js';

export interface SourceFreshness {
  readonly source: string;
  readonly lagSeconds: number | null;
  readonly lagBytes: number | null;
}

/** The source server's log end for a source key, from its agent's newest heartbeat. */
export function serverPositionsOf(sessions: ReadonlyMap<string, AgentSession>): ServerPositions {
  return (sourceKey) => {
    const s = sessions.get(sourceKey);
    const hb = s?.lastHeartbeat;
    return s === undefined || hb === null || hb === undefined || hb.serverPosition === 0n ? undefined : { position: hb.serverPosition, kind: s.sourceKind };
  };
}

export function sourceFreshness(sessions: ReadonlyMap<string, AgentSession>, log: IngestLog, nowMs: number): SourceFreshness[] {
  return [...sessions.entries()].map(([source, s]) => {
    const hb = s.lastHeartbeat;
    const cp = log.checkpoint(source);
    return {
      source,
      lagSeconds: s.freshUntilUs > 0 ? Math.max(0, nowMs / 1000 - s.freshUntilUs / 1e6) : null,
      lagBytes: hb === null || hb.serverPosition === 0n || cp === undefined ? null : positionBytes(s.sourceKind, hb.serverPosition, cp.sourcePosition),
    };
  });
}

export function updateSourceMetrics(metrics: HubMetrics, sessions: ReadonlyMap<string, AgentSession>, log: IngestLog): void {
  for (const f of sourceFreshness(sessions, log, Date.now())) {
    if (f.lagSeconds !== null) metrics.sourceLagSeconds.set({ source: f.source }, f.lagSeconds);
    if (f.lagBytes !== null) metrics.sourceLagBytes.set({ source: f.source }, f.lagBytes);
  }
}
