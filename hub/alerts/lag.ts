/**
 * How far behind a sink is, for the lag rule: the sink's measured freshness
 * (sinks/freshness.ts: now − the source time of the newest commit or
 * heartbeat it applied), the worst of its sources, on the rule's clock.
 *
 * A source whose agent writes no heartbeats (MySQL without a heartbeat
 * table, or heartbeats off or refused) cannot tell an idle source from a
 * stalled one: for it, a sink caught up with the log head counts as not
 * behind, so an idle source raises nothing. A source not measured yet
 * (nothing applied since the hub started) counts as 0.
 */
import type { AgentSession } from '../ingest/ingest-server.js';
import type { SinkWorkerStatus } from '../sinks/worker.js';

export function sinkLagSeconds(s: SinkWorkerStatus, logHead: number, nowMs: number, sessions: ReadonlyMap<string, AgentSession> = new Map()): number {
  let worst = 0;
  for (const f of s.sources) {
    if (f.freshUntilUs === 0) continue;
    const heartbeats = (sessions.get(f.source)?.lastHeartbeat?.sourceHeartbeatIntervalMs ?? 0) > 0;
    if (!heartbeats && s.offset >= logHead) continue;
    worst = Math.max(worst, nowMs / 1000 - f.freshUntilUs / 1e6);
  }
  return worst;
}
