/**
 * The newest snapshot progress per (source, table), from the agents'
 * `snapshot.progress` events on the hub's event bus (agents re-emit at least
 * every 5 s while a snapshot runs, so a hub that restarts learns the state
 * again within seconds). In memory only.
 */
import type { HubEvent, HubEvents } from '../events/hub-events.js';

export const SNAPSHOT_STATES = ['pending', 'running', 'paused', 'done', 'failed', 'cancelled'] as const;
export type SnapshotState = (typeof SNAPSHOT_STATES)[number];

export interface SnapshotProgress {
  readonly source: string;
  readonly table: string;
  readonly state: SnapshotState;
  readonly rowsDone: number;
  readonly rowsEstimate: number | null;
  readonly chunksDone: number;
  readonly startedAt: string | null;
  readonly updatedAt: string;
  readonly error: string | null;
  /** Seconds left at the average rate so far (running snapshots with an estimate only). */
  readonly etaSeconds: number | null;
  readonly etaAt: string | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length <= 1000 ? v : null);

/** Reads one event's payload; anything malformed is ignored (an agent's word is input like any other). */
export function parseProgress(e: HubEvent): (SnapshotProgress & { workspace: string }) | null {
  if (e.kind !== 'agent.snapshot.progress' || e.source === undefined) return null;
  const p = (e.data['payload'] ?? null) as Record<string, unknown> | null;
  if (p === null || typeof p !== 'object') return null;
  const table = str(p['table']);
  const state = p['state'];
  if (table === null || !/^[^.]{1,63}\.[^.]{1,63}$/.test(table) || !SNAPSHOT_STATES.includes(state as SnapshotState)) return null;
  const rowsDone = num(p['rowsDone']) ?? 0;
  const rowsEstimate = num(p['rowsEstimate']);
  const startedAt = str(p['startedAt']);
  const updatedAt = str(p['updatedAt']) ?? e.at;
  let etaSeconds: number | null = null;
  const elapsed = startedAt === null ? NaN : (Date.parse(updatedAt) - Date.parse(startedAt)) / 1000;
  if (state === 'running' && rowsEstimate !== null && rowsEstimate > rowsDone && rowsDone > 0 && elapsed > 0) etaSeconds = Math.round(((rowsEstimate - rowsDone) * elapsed) / rowsDone);
  return {
    workspace: e.workspace,
    source: e.source,
    table,
    state: state as SnapshotState,
    rowsDone,
    rowsEstimate,
    chunksDone: num(p['chunksDone']) ?? 0,
    startedAt,
    updatedAt,
    error: str(p['error']),
    etaSeconds,
    etaAt: etaSeconds === null ? null : new Date(Date.parse(updatedAt) + etaSeconds * 1000).toISOString(),
  };
}

export class SnapshotTracker {
  private readonly latest = new Map<string, SnapshotProgress & { workspace: string }>();

  constructor(events: Pick<HubEvents, 'subscribe'> | null) {
    events?.subscribe((e) => {
      const p = parseProgress(e);
      if (p !== null) this.latest.set(`${p.source}\u0000${p.table}`, p);
    });
  }

  list(workspace: string): SnapshotProgress[] {
    return [...this.latest.values()].filter((p) => p.workspace === workspace).map(({ workspace: _w, ...p }) => p);
  }
}
