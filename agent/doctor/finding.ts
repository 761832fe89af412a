/**
 * What the doctor reports: one finding per check, each saying what is wrong
 * and the statement that fixes it. The shape is the `doctor.findings` agent
 * event's payload, so the hub, the CLI and the alerts read the same thing.
 */
export type FindingSeverity = 'ok' | 'warning' | 'critical';

export interface Finding {
  /** Stable dotted name, e.g. `wal_level`, `slot.wal_status`, `binlog_format`. */
  readonly check: string;
  readonly severity: FindingSeverity;
  readonly message: string;
  /** The statement (or action) that fixes it; absent when nothing needs doing. */
  readonly fix?: string;
}

export interface DoctorReport {
  readonly checkedAt: string;
  readonly findings: readonly Finding[];
}

export function ok(check: string, message: string): Finding {
  return { check, severity: 'ok', message };
}

export function warning(check: string, message: string, fix?: string): Finding {
  return fix === undefined ? { check, severity: 'warning', message } : { check, severity: 'warning', message, fix };
}

export function critical(check: string, message: string, fix?: string): Finding {
  return fix === undefined ? { check, severity: 'critical', message } : { check, severity: 'critical', message, fix };
}

export function worst(findings: readonly Finding[]): FindingSeverity {
  if (findings.some((f) => f.severity === 'critical')) return 'critical';
  if (findings.some((f) => f.severity === 'warning')) return 'warning';
  return 'ok';
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(1)} ${UNITS[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'never';
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}
