/**
 * How fresh a sink is, per source, measured from what it has applied:
 * every batch carries the source clock at its newest commit
 * (ChangeBatch.source_time_us; heartbeats the agent writes into the source
 * log included, so an idle source still moves it) and the source position it
 * completes. Once a sink has applied a batch durably it holds everything the
 * source committed up to that time, so
 *
 *   lagSeconds = now − source time of the newest applied batch
 *   lagBytes   = the source server's log end (agent heartbeats) − the newest applied position
 *
 * A sink that stops applying (destination down, paused, a failing write) or
 * whose source stops sending (agent or database down) sees its lag grow by
 * itself; nothing is guessed from the log head. Until a sink has applied one
 * batch of a source since the hub started, its lag for that source is
 * unknown (null).
 */
import type { ChangeBatch } from '../../proto/gen/tributary/v1/change_pb.js';
import type { HubMetrics } from '../metrics.js';

/** The source time a batch makes its reader fresh up to (agents before source_time_us: its newest commit time). */
export function sourceTimeOf(batch: ChangeBatch): number {
  let newest = batch.sourceTimeUs;
  if (newest === 0n) for (const e of batch.events) if (e.commitTimeUs > newest) newest = e.commitTimeUs;
  return Number(newest);
}

/** The source server's newest log position (from the agent's heartbeats), and the source kind, for byte lag. */
export type ServerPositions = (sourceKey: string) => { readonly position: bigint; readonly kind: string } | undefined;

export const NO_SERVER_POSITIONS: ServerPositions = () => undefined;

export interface SourceLag {
  readonly source: string;
  /** Source clock at the newest commit or heartbeat applied, µs since the epoch (0 = none yet). */
  readonly freshUntilUs: number;
  readonly appliedPosition: bigint;
  readonly lagSeconds: number | null;
  readonly lagBytes: number | null;
}

/** Bytes between two positions of one source; MySQL positions are file number × 2^32 + offset. */
export function positionBytes(kind: string, server: bigint, applied: bigint): number {
  if (server <= applied) return 0;
  if (kind === 'mysql' && server >> 32n !== applied >> 32n) {
    // A later binlog file: what the applied file still holds after the position is not known here;
    // the server's offset in its current file is a lower bound.
    return Number(server & 0xffffffffn);
  }
  return Number(server - applied);
}

export class SinkFreshness {
  private readonly bySource = new Map<string, { timeUs: number; position: bigint }>();

  /** `routed` lists the sources the sink applies now: pipelines change at run time. */
  constructor(private readonly routed: () => readonly string[]) {}

  /**
   * Records a batch of `sourceKey` the sink has applied durably: its source
   * position and source time (`sourceTimeUs`, or for batches from agents that
   * do not send it, the newest commit time among its changes).
   */
  applied(sourceKey: string, position: bigint, sourceTimeUs: number): void {
    let cur = this.bySource.get(sourceKey);
    if (cur === undefined) this.bySource.set(sourceKey, (cur = { timeUs: 0, position: 0n }));
    if (sourceTimeUs > cur.timeUs) cur.timeUs = sourceTimeUs;
    if (position > cur.position) cur.position = position;
  }

  sources(nowMs: number, server: ServerPositions): SourceLag[] {
    return this.routed().map((source) => {
      const f = this.bySource.get(source) ?? { timeUs: 0, position: 0n };
      const s = server(source);
      const known = f.timeUs > 0;
      return {
        source,
        freshUntilUs: f.timeUs,
        appliedPosition: f.position,
        lagSeconds: known ? Math.max(0, nowMs / 1000 - f.timeUs / 1e6) : null,
        lagBytes: known && s !== undefined ? positionBytes(s.kind, s.position, f.position) : null,
      };
    });
  }
}

/** The worst (largest) known value, or null when none is known. */
export function worst(values: readonly (number | null)[]): number | null {
  let out: number | null = null;
  for (const v of values) if (v !== null && (out === null || v > out)) out = v;
  return out;
}

/** A batch the sink is about to apply: where it ends in its source, and the source time it makes the sink fresh up to. */
export interface FreshnessMark {
  readonly sourceKey: string;
  readonly position: bigint;
  readonly sourceTimeUs: number;
}

/** Status fields every sink driver derives from its freshness. */
export function freshnessStatus(f: SinkFreshness, server: ServerPositions): { lagSeconds: number | null; lagBytes: number | null; sources: SourceLag[] } {
  const sources = f.sources(Date.now(), server);
  return { lagSeconds: worst(sources.map((s) => s.lagSeconds)), lagBytes: worst(sources.map((s) => s.lagBytes)), sources };
}

/** Publishes a sink's per-source freshness gauges. */
export function updateFreshnessMetrics(metrics: HubMetrics, sink: string, sources: readonly SourceLag[]): void {
  for (const s of sources) {
    if (s.lagSeconds !== null) metrics.sinkLagSeconds.set({ sink, source: s.source }, s.lagSeconds);
    if (s.lagBytes !== null) metrics.sinkLagBytes.set({ sink, source: s.source }, s.lagBytes);
  }
}
