/**
 * How far behind a sink is, read in one place so the lag rule follows
 * whatever the sink worker reports: today the commit time of the newest
 * change it applied (zero once it has caught up with the log head).
 */
import type { SinkWorkerStatus } from '../sinks/worker.js';

export function sinkLagSeconds(s: SinkWorkerStatus, logHead: number, nowMs: number): number {
  if (s.lastCommitTimeUs === 0 || s.offset >= logHead) return 0;
  return Math.max(0, nowMs / 1000 - s.lastCommitTimeUs / 1e6);
}
