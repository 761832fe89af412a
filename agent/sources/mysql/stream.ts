/**
 * The binlog connection: @vlasky/zongji (on mysql2) speaks the replication
 * protocol and decodes row images; everything about positions is ours.
 * One BinlogStream is one dump connection; it never reconnects (the source
 * does, from the spooled position) and always uses the configured server_id
 * (zongji's default of 1 collides with the server's own id on most setups).
 */
import ZongJi, { type AnyBinlogEvent } from '@vlasky/zongji';
import { AgentError } from '../../errors.js';
import { formatGtid, type ResumePosition } from './position.js';

export interface BinlogConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
}

export interface BinlogStreamOptions {
  readonly connection: BinlogConnection;
  readonly serverId: number;
  /** Where to start: after this position, or (null) at the server's current end. */
  readonly start: ResumePosition | null;
  /** zongji schema filters: `{ db: true | [tables] }`. */
  readonly includeSchema: Record<string, string[] | true> | undefined;
  readonly excludeSchema: Record<string, string[] | true> | undefined;
  /** The server sends a heartbeat event after this much idle time. */
  readonly heartbeatMs: number;
  /** Called synchronously for each event, in binlog order. */
  readonly onEvent: (event: AnyBinlogEvent) => void;
}

const EVENTS = [
  'rotate',
  'mariadbgtid',
  'gtid',
  'anonymousgtid',
  'tablemap',
  'writerows',
  'updaterows',
  'deleterows',
  'xid',
  'query',
  'heartbeat',
  'xaprepare',
  'transactionpayload',
  'partialupdaterows',
];

/** The parts of mysql2's connection we use for flow control. */
interface Pausable {
  pause(): void;
  resume(): void;
  query(sql: string, cb: (err: Error | null) => void): void;
}

export class BinlogStream {
  private readonly zongji: ZongJi;
  private done: ((err: AgentError | null) => void) | null = null;
  private paused = false;

  constructor(private readonly options: BinlogStreamOptions) {
    const c = options.connection;
    this.zongji = new ZongJi({
      host: c.host,
      port: c.port,
      user: c.user,
      ...(c.password !== undefined ? { password: c.password } : {}),
      // Exact values: temporal values as the server's text in UTC, JSON as text,
      // DECIMAL and 64-bit integers beyond 2^53 as exact strings.
      dateStrings: true,
      timezone: 'Z',
      jsonStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectTimeout: 10_000,
    });
  }

  /** Streams until `stop` (resolves) or a failure (rejects with a classified AgentError). */
  run(): Promise<void> {
    const o = this.options;
    return new Promise<void>((resolve, reject) => {
      this.done = (err) => {
        this.done = null;
        if (err === null) resolve();
        else reject(err);
      };
      this.zongji.on('binlog', (e: AnyBinlogEvent) => {
        try {
          o.onEvent(e);
        } catch (cause) {
          this.fail(cause instanceof AgentError ? cause : new AgentError('protocol', 'handling a binlog event failed', { cause }));
        }
      });
      this.zongji.on('error', (err: unknown) => this.fail(classify(err)));
      this.zongji.on('ready', () => {
        // Queued before the dump command (zongji enqueues it right after 'ready'):
        // the server then sends heartbeats when idle, so lag is known.
        const conn = this.connection();
        conn?.query(`SET @master_heartbeat_period = ${Math.round(o.heartbeatMs * 1e6)}`, (err) => {
          if (err !== null) this.fail(classify(err));
        });
      });
      const start =
        o.start === null
          ? { startAtEnd: true }
          : o.start.gtid !== null
            ? { gtidSet: formatGtid(o.start.gtid) }
            : { filename: o.start.file, position: o.start.pos };
      this.zongji.start({
        serverId: o.serverId,
        ...start,
        includeEvents: EVENTS,
        ...(o.includeSchema !== undefined ? { includeSchema: o.includeSchema } : {}),
        ...(o.excludeSchema !== undefined ? { excludeSchema: o.excludeSchema } : {}),
      });
    });
  }

  /** Whether the server is MariaDB (known once streaming). */
  get isMariaDb(): boolean {
    return this.zongji.isMariaDb;
  }

  /** The executed GTID set zongji tracks (MySQL flavour), including the transaction just committed. */
  get gtidSet(): string | undefined {
    return this.zongji.gtidSet;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.connection()?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection()?.resume();
  }

  stop(): void {
    this.zongji.stop();
    this.done?.(null);
  }

  private fail(err: AgentError): void {
    if (this.done === null) return;
    const done = this.done;
    this.zongji.stop();
    done(err);
  }

  private connection(): Pausable | null {
    // zongji keeps its binlog connection on a public-but-untyped field.
    return (this.zongji as unknown as { connection: Pausable | null }).connection;
  }
}

/** MySQL server error numbers we act on (include/mysqld_error.h). */
export const ER = {
  ACCESS_DENIED: 1045,
  DBACCESS_DENIED: 1044,
  SPECIFIC_ACCESS_DENIED: 1227,
  TABLEACCESS_DENIED: 1142,
  MASTER_FATAL_READING_BINLOG: 1236,
  UNKNOWN_SYSTEM_VARIABLE: 1193,
} as const;

/** Maps a failure to an AgentError by MySQL errno or Node error code (never by message text). */
export function classify(cause: unknown): AgentError {
  if (cause instanceof AgentError) return cause;
  const errno = (cause as { errno?: unknown } | null)?.errno;
  const text = cause instanceof Error ? cause.message : String(cause);
  // Server errors have errno >= 1000; Node socket errors carry negative errnos.
  if (typeof errno === 'number' && errno > 0) {
    if (errno === ER.ACCESS_DENIED || errno === ER.DBACCESS_DENIED || errno === ER.SPECIFIC_ACCESS_DENIED || errno === ER.TABLEACCESS_DENIED)
      return new AgentError('source-permission', `MySQL refused access (errno ${errno}): ${text}; the agent's user needs REPLICATION SLAVE, REPLICATION CLIENT (MariaDB 10.5+: BINLOG MONITOR) and SELECT`, { cause });
    if (errno === ER.MASTER_FATAL_READING_BINLOG)
      return new AgentError(
        'source-misconfigured',
        `the server cannot send the binlog from the position this agent needs (errno ${errno}): the binlog holding it was most likely purged. ` +
          `Changes after the last spooled transaction are lost to this agent: the source is stopped, and the tables need a re-snapshot ` +
          `(or a new spool, which starts at the server's current end). Server said: ${text}`,
        { cause },
      );
    return new AgentError('source-unavailable', `MySQL error (errno ${errno}): ${text}`, { cause });
  }
  return new AgentError('source-unavailable', `binlog connection failed: ${text}`, { cause });
}
