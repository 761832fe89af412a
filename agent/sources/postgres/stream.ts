/**
 * The replication connection: pg-logical-replication carries the COPY BOTH
 * stream, everything else is ours. Two of the library's behaviours lose data
 * and are switched off: its automatic acknowledgement (it confirms the last
 * LSN *received*, processed or not) and its status timer (same). We send
 * standby status updates ourselves, only with the position the spool holds
 * durably, and answer keepalives with it.
 */
import { LogicalReplicationService } from 'pg-logical-replication';
import type { ClientConfig } from 'pg';
import { formatLsn, parseLsn } from './position.js';
import { classify, optionsString } from './session.js';

export { classify, optionsString };

export interface ReplicationStreamOptions {
  readonly client: ClientConfig;
  readonly slot: string;
  readonly publication: string;
  readonly startLsn: bigint;
  /** Session settings that fix the text output of values (DateStyle, TimeZone, ...). */
  readonly sessionSettings: Readonly<Record<string, string>>;
  /** Called synchronously for each XLogData payload; the bytes are only valid during the call. */
  readonly onData: (payload: Uint8Array) => void;
  /** Called with the server's current end of WAL from keepalives. */
  readonly onServerPosition: (lsn: bigint) => void;
  /** How often to send a status update even without a keepalive request. */
  readonly statusIntervalMs: number;
}

/** Least time between two status updates sent because the durable position moved. */
const CONFIRM_INTERVAL_MS = 1000;

/** PostgreSQL's epoch for replication timestamps: 2000-01-01T00:00:00Z. */
const PG_EPOCH_MS = 946_684_800_000;

interface CopyConnection {
  sendCopyFromChunk(chunk: Buffer): void;
  stream?: { pause?: () => void; resume?: () => void };
}

export class ReplicationStream {
  private readonly service: LogicalReplicationService;
  private confirmed = 0n;
  private lastStatusAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private paused = false;
  /** A connection error the library reported as an event rather than a rejection. */
  private failure: unknown = null;

  constructor(private readonly options: ReplicationStreamOptions) {
    this.service = new LogicalReplicationService(
      { ...options.client, options: optionsString(options.sessionSettings) },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } },
    );
    this.service.on('data', (_lsn: string, payload: Buffer) => options.onData(payload));
    this.service.on('heartbeat', (lsn: string, _ts: number, shouldRespond: boolean) => {
      options.onServerPosition(parseLsn(lsn));
      if (shouldRespond) this.sendStatus();
    });
    // The library re-emits the pg client's 'error' (e.g. the server killed
    // mid-stream). Without a listener Node turns that event into an uncaught
    // exception that ends the agent; keep it and fail this session instead,
    // so the source reconnects with backoff.
    this.service.on('error', (cause: unknown) => {
      this.failure ??= cause;
    });
  }

  /**
   * Streams until the connection ends or `stop` is called. Rejects with an
   * AgentError classified by SQLSTATE (session.ts).
   */
  async run(): Promise<void> {
    const pub = this.options.publication;
    const plugin = {
      options: {},
      name: 'pgoutput',
      // Identifiers were validated by the config; LSN is formatted by us.
      start: (client: { query(sql: string): Promise<unknown> }, slot: string, lsn: string) =>
        client.query(
          `START_REPLICATION SLOT "${slot}" LOGICAL ${lsn} (proto_version '1', publication_names '"${pub}"', messages 'true')`,
        ),
      parse: (buffer: Buffer) => buffer,
    };
    this.confirmed = this.options.startLsn;
    this.timer = setInterval(() => this.sendStatus(), Math.min(this.options.statusIntervalMs, CONFIRM_INTERVAL_MS));
    this.timer.unref();
    try {
      // The library's typings want its abstract class; the shape is what it uses.
      await this.service.subscribe(plugin as never, this.options.slot, formatLsn(this.options.startLsn));
      if (this.failure !== null) throw this.failure;
    } catch (cause) {
      throw classify(cause);
    } finally {
      clearInterval(this.timer);
    }
  }

  /**
   * Records that everything up to `lsn` (a commit end) is durable in the
   * spool, and tells the server so it can release WAL.
   */
  confirm(lsn: bigint): void {
    if (lsn <= this.confirmed) return;
    this.confirmed = lsn;
    // Each status update that moves the slot makes the walsender save the
    // slot to disk (an fsync in its own loop): telling it after every spool
    // flush would pace the server by our fsyncs. Once per interval is enough
    // to release WAL; keepalive requests and shutdown are answered at once.
    if (Date.now() - this.lastStatusAt >= CONFIRM_INTERVAL_MS) this.sendStatus();
  }

  get confirmedPosition(): bigint {
    return this.confirmed;
  }

  /** Stops reading from the socket (back-pressure); status updates continue. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.connection()?.stream?.pause?.();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection()?.stream?.resume?.();
  }

  /** Sends a final status update with the durable position, then closes. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.sendStatus();
    await this.service.stop();
  }

  private connection(): CopyConnection | null {
    // The library keeps the pg connection private; we need it to send our
    // own status updates and to pause the socket.
    return (this.service as unknown as { _connection: CopyConnection | null })._connection;
  }

  private sendStatus(): void {
    const conn = this.connection();
    if (conn === null) return;
    this.lastStatusAt = Date.now();
    try {
      conn.sendCopyFromChunk(standbyStatusUpdate(this.confirmed, Date.now()));
    } catch {
      // The connection is closing; the next connection starts from the slot.
    }
  }
}

/**
 * Standby Status Update ('r', PostgreSQL protocol "Streaming Replication
 * Protocol"): write = flush = apply = the durable position, exactly (the
 * library adds 1), and the client clock in microseconds since 2000-01-01.
 */
export function standbyStatusUpdate(durable: bigint, nowMs: number): Buffer {
  const msg = Buffer.alloc(34);
  msg[0] = 0x72;
  msg.writeBigUInt64BE(durable, 1);
  msg.writeBigUInt64BE(durable, 9);
  msg.writeBigUInt64BE(durable, 17);
  msg.writeBigInt64BE(BigInt(Math.round(nowMs) - PG_EPOCH_MS) * 1000n, 25);
  msg[33] = 0;
  return msg;
}

