/**
 * The continuous doctor inside a running agent: checks the source every
 * `intervalMs` and hands each report to `emit` (the agent sends it to the hub
 * as a `doctor.findings` event). Events are not durable, so every report is
 * complete and re-sent each interval; the hub keeps the latest. A finding
 * that turns critical, or recovers, is also logged.
 */
import type { SourceConfig } from '../config.js';
import type { Logger } from '../log.js';
import { sleep } from '../backoff.js';
import { Doctor } from './doctor.js';
import type { DoctorReport } from './finding.js';

export interface DoctorMonitorOptions {
  readonly config: SourceConfig;
  readonly intervalMs: number;
  readonly log: Logger;
  readonly emit: (report: DoctorReport) => void;
  /** The source's confirmed position (for the MySQL purged-binlog check). */
  readonly position: () => bigint;
  /**
   * The source streams now. Until it does, a missing slot is expected (the
   * source creates it when its session starts), not a lost one.
   */
  readonly streaming: () => boolean;
}

export async function runDoctorMonitor(o: DoctorMonitorOptions, signal: AbortSignal): Promise<void> {
  const doctor = new Doctor(o.config);
  let critical = new Set<string>();
  await doctor.baseline();
  while (!signal.aborted) {
    const report = await doctor.check({ running: o.streaming(), position: o.position() });
    if (signal.aborted) return;
    const now = new Set(report.findings.filter((f) => f.severity === 'critical').map((f) => f.check));
    for (const f of report.findings) if (f.severity === 'critical' && !critical.has(f.check)) o.log.error('doctor: source check failed', { check: f.check, message: f.message, fix: f.fix });
    for (const check of critical) if (!now.has(check)) o.log.info('doctor: source check recovered', { check });
    critical = now;
    try {
      o.emit(report);
    } catch (e) {
      o.log.warn('doctor: could not send findings', { error: e });
    }
    await sleep(o.intervalMs, signal);
  }
}
