/**
 * The replication slot's health from one row of pg_replication_slots and the
 * previous sample: its WAL status, the WAL it holds back, and how long until
 * `max_slot_wal_keep_size` would invalidate it. Pure, so the arithmetic is
 * unit-tested without a server.
 *
 * Why two rates: the WAL the slot retains grows by the server's WAL rate
 * minus what the agent consumes. While the agent keeps up it does not grow
 * and the slot is safe whatever the WAL rate; the "budget" (safe_wal_size /
 * WAL rate) is how long an agent outage starting now could last.
 */
import { critical, formatBytes, formatDuration, ok, warning, type Finding } from './finding.js';

export interface SlotRow {
  readonly active: boolean;
  /** PostgreSQL 13+: reserved, extended, unreserved, lost. */
  readonly walStatus: string | null;
  /** Bytes that can still be written before the slot is at risk; null when max_slot_wal_keep_size = -1 (or lost). */
  readonly safeWalSize: number | null;
  /** pg_current_wal_lsn() - restart_lsn, bytes. */
  readonly retainedBytes: number;
  /** pg_current_wal_lsn() as a byte position. */
  readonly currentLsn: bigint;
}

/** What the next check needs to know about this one, for rates. */
export interface WalSample {
  readonly atMs: number;
  readonly currentLsn: bigint;
  readonly retainedBytes: number;
}

export interface SlotThresholds {
  /** Time left below which the slot is critical. */
  readonly criticalSeconds: number;
  /** Time left below which it is a warning. */
  readonly warningSeconds: number;
  /** Share of max_slot_wal_keep_size retained above which it is a warning. */
  readonly warningShare: number;
  /** Retained WAL above which an unlimited slot is a warning. */
  readonly unlimitedWarningBytes: number;
}

export const DEFAULT_SLOT_THRESHOLDS: SlotThresholds = { criticalSeconds: 3600, warningSeconds: 6 * 3600, warningShare: 0.5, unlimitedWarningBytes: 1 << 30 };

export interface SlotEstimate {
  /** Server WAL rate, bytes/s (null without a previous sample). */
  readonly walRate: number | null;
  /** Growth of the retained WAL, bytes/s (null without a previous sample). */
  readonly retainedGrowth: number | null;
  /** Seconds until invalidation at the current pace (Infinity when the slot is not falling behind). */
  readonly timeLeftSeconds: number;
  /** Seconds an agent outage starting now could last before invalidation. */
  readonly outageBudgetSeconds: number;
}

export function estimate(row: SlotRow, previous: WalSample | null, nowMs: number): SlotEstimate {
  const dt = previous === null ? 0 : (nowMs - previous.atMs) / 1000;
  const walRate = previous === null || dt <= 0 ? null : Math.max(0, Number(row.currentLsn - previous.currentLsn) / dt);
  const retainedGrowth = previous === null || dt <= 0 ? null : (row.retainedBytes - previous.retainedBytes) / dt;
  const safe = row.safeWalSize;
  if (safe === null) return { walRate, retainedGrowth, timeLeftSeconds: Infinity, outageBudgetSeconds: Infinity };
  const budget = walRate === null || walRate <= 0 ? Infinity : Math.max(0, safe) / walRate;
  // Nobody reads an inactive slot: it falls behind at the full WAL rate.
  const pace = row.active ? retainedGrowth : walRate;
  const timeLeft = safe <= 0 ? 0 : pace === null || pace <= 0 ? Infinity : safe / pace;
  return { walRate, retainedGrowth, timeLeftSeconds: timeLeft, outageBudgetSeconds: budget };
}

function raiseKeep(slot: string, keepBytes: number, retained: number): string {
  const mb = Math.ceil(Math.max(2 * keepBytes, 4 * retained) / (1 << 20));
  return `start the agent so it consumes slot "${slot}", or give it room: ALTER SYSTEM SET max_slot_wal_keep_size = '${mb}MB'; SELECT pg_reload_conf();`;
}

/**
 * Findings `slot.wal_status` and `slot.retention`. `keepBytes` is
 * max_slot_wal_keep_size in bytes, or -1 for unlimited.
 */
export function slotFindings(slot: string, row: SlotRow, keepBytes: number, previous: WalSample | null, nowMs: number, t: SlotThresholds = DEFAULT_SLOT_THRESHOLDS): Finding[] {
  const out: Finding[] = [];
  const status = row.walStatus ?? 'unknown';
  if (status === 'lost')
    out.push(
      critical(
        'slot.wal_status',
        `slot "${slot}" was invalidated (wal_status lost): PostgreSQL removed WAL it still needed, so changes were lost to this agent`,
        `SELECT pg_drop_replication_slot('${slot}'); then start the agent with a new spool and re-snapshot the tables`,
      ),
    );
  else if (status === 'unreserved')
    out.push(critical('slot.wal_status', `slot "${slot}" is past max_slot_wal_keep_size (wal_status unreserved): the next checkpoint removes WAL it needs`, raiseKeep(slot, keepBytes, row.retainedBytes)));
  else out.push(ok('slot.wal_status', `slot "${slot}" wal_status is ${status}`));

  const e = estimate(row, previous, nowMs);
  const rate = e.walRate === null ? 'WAL rate not measured yet' : `WAL rate ${formatBytes(e.walRate)}/s`;
  const retained = formatBytes(row.retainedBytes);
  if (keepBytes < 0) {
    const msg = `slot "${slot}" retains ${retained} of WAL; max_slot_wal_keep_size is unlimited, so an agent that stays away makes PostgreSQL keep WAL until its disk fills (${rate})`;
    out.push(row.retainedBytes > t.unlimitedWarningBytes ? warning('slot.retention', msg, `start the agent, or cap the slot: ALTER SYSTEM SET max_slot_wal_keep_size = '${Math.ceil((4 * row.retainedBytes) / (1 << 20))}MB'; SELECT pg_reload_conf();`) : ok('slot.retention', msg));
    return out;
  }
  if (status === 'lost') return out;
  const share = row.retainedBytes / keepBytes;
  const msg =
    `slot "${slot}" retains ${retained} of max_slot_wal_keep_size ${formatBytes(keepBytes)} (${Math.round(share * 100)}%); ` +
    `${Number.isFinite(e.timeLeftSeconds) ? `invalidated in about ${formatDuration(e.timeLeftSeconds)} at the current pace` : 'not falling behind'}; ` +
    `an agent outage starting now could last ${formatDuration(e.outageBudgetSeconds)} (${rate})`;
  if (e.timeLeftSeconds < t.criticalSeconds) out.push(critical('slot.retention', msg, raiseKeep(slot, keepBytes, row.retainedBytes)));
  else if (e.timeLeftSeconds < t.warningSeconds || share > t.warningShare) out.push(warning('slot.retention', msg, raiseKeep(slot, keepBytes, row.retainedBytes)));
  else out.push(ok('slot.retention', msg));
  return out;
}
