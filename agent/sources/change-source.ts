/** What every source reports about itself (heartbeats, metrics, the doctor). */
export interface SourceStatus {
  readonly connected: boolean;
  /** Highest source position durably in the spool and confirmed to the server. */
  readonly confirmedPosition: bigint;
  /** Newest position the server reported (end of its log), for byte lag. */
  readonly serverPosition: bigint;
  /** True while reading is stopped because the spool is full. */
  readonly backPressure: boolean;
  readonly eventsCaptured: number;
  readonly lastError: string | null;
  /** How often a heartbeat is written into the source log; 0 when off (not configured, or refused by the source). */
  readonly heartbeatIntervalMs: number;
}

/**
 * A database log reader. `run` streams committed changes into the agent's
 * ChangeBuffer until the signal aborts, reconnecting with backoff after
 * transient failures; it rejects only on failures that need a person
 * (configuration, permissions, a position the server no longer has).
 */
export interface ChangeSource {
  readonly id: string;
  run(signal: AbortSignal): Promise<void>;
  status(): SourceStatus;
}
