/**
 * Holds the replication messages back while a changed table's missing
 * values (missing-values.ts) are read from the catalog, then hands them to
 * the capture in arrival order. The lookup must finish before the table's
 * next row is captured, because the version's schema travels with that row.
 *
 * Durability: while anything is held, the gate is not idle, so no keepalive
 * position is confirmed past messages not yet captured. A slow lookup pauses
 * the stream once HOLD_LIMIT messages are held (back-pressure, not memory).
 * A failed lookup is logged and the version goes on without missing values
 * (rows stored before the column then hold NULL downstream).
 */
import { AgentError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Capture } from './capture.js';
import { decodePgOutput, type PgOutputMessage } from './protocol.js';

const HOLD_LIMIT = 10_000;

export interface GateFlow {
  pause(): void;
  resume(): void;
}

type Lookup = (relationId: number) => Promise<ReadonlyMap<string, string>>;

export class LookupGate {
  private readonly held: Uint8Array[] = [];
  private busy = false;
  private paused = false;

  constructor(
    private readonly capture: Pick<Capture, 'handle' | 'takeLookup' | 'setMissing' | 'fail' | 'error'>,
    private readonly lookup: Lookup,
    private readonly log: Logger,
    private readonly flow: GateFlow,
    /** Sees every message after the capture handled it. */
    private readonly observe?: (msg: PgOutputMessage) => void,
  ) {}

  /** True when no message is held or being looked up. */
  get idle(): boolean {
    return !this.busy && this.held.length === 0;
  }

  push(payload: Uint8Array): void {
    if (this.capture.error !== null) return;
    if (this.busy) {
      this.held.push(payload);
      if (this.held.length >= HOLD_LIMIT && !this.paused) {
        this.paused = true;
        this.flow.pause();
      }
      return;
    }
    this.handle(payload);
  }

  private handle(payload: Uint8Array): void {
    try {
      const msg = decodePgOutput(payload);
      this.capture.handle(msg);
      this.observe?.(msg);
    } catch (cause) {
      this.capture.fail(cause instanceof AgentError ? cause : new AgentError('protocol', 'decoding a change failed', { cause }));
      return;
    }
    const need = this.capture.takeLookup();
    if (need === null) return;
    this.busy = true;
    void this.lookup(need.relationId).then(
      (values) => this.release(() => this.capture.setMissing(need.relationId, values)),
      (error: unknown) =>
        this.release(() => this.log.warn('reading the default of existing rows for a changed table failed; those rows keep NULL downstream', { table: need.tableKey, error })),
    );
  }

  private release(apply: () => void): void {
    apply();
    this.busy = false;
    let i = 0;
    while (i < this.held.length && !this.busy && this.capture.error === null) this.handle(this.held[i++] as Uint8Array);
    // Messages that arrived during a second lookup stay held, in order, behind it.
    this.held.splice(0, this.capture.error === null ? i : this.held.length);
    if (this.paused && !this.busy) {
      this.paused = false;
      this.flow.resume();
    }
  }
}
