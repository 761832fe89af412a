/**
 * MySqlSource: one binlog session at a time, restarted with backoff (the
 * binlog library does not reconnect by itself). Each session: pre-flight
 * checks, the resume position from the spool (or, for a new spool, the
 * server's current end, recorded in the spool before streaming so nothing
 * committed after it can be missed), a purge check, then streaming into
 * Capture.
 */
import type { AgentControl } from '../../uplink/control.js';
import mysql from 'mysql2/promise';
import { CapturedTables } from '../../pipeline/captured-tables.js';
import { BatchBuilder, type BatchLimit } from '../../buffer/batch-builder.js';
import type { ChangeBuffer } from '../../buffer/change-buffer.js';
import { Backoff } from '../../backoff.js';
import { AgentError, retryDirective } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ChangeSource, SourceStatus } from '../change-source.js';
import { Capture } from './capture.js';
import type { MySqlSourceConfig } from './config.js';
import { checkRetained, currentEnd, preflight } from './preflight.js';
import { commitPosition, decodeResume, encodeResume, formatGtid, type ResumePosition } from './position.js';
import { BinlogStream, classify } from './stream.js';
import { SnapshotEngine } from '../../snapshot/engine.js';
import { progressEmitter, registerSnapshotCommands } from '../../snapshot/commands.js';
import { MySqlSnapshotSource, snapshotTables, splitTable, type MySqlChunkMeta } from './snapshot.js';
import { HeartbeatTimer } from '../heartbeat-timer.js';
import { MySqlHeartbeatWriter } from './heartbeat.js';

export interface MySqlSourceOptions {
  readonly config: MySqlSourceConfig;
  readonly buffer: ChangeBuffer;
  readonly log: Logger;
  readonly batchLimit: BatchLimit;
  /** Commands from the hub and events to it; absent in tools that run a source without a hub. */
  readonly control?: AgentControl | undefined;
  /** The tables captured, changed at run time by `pipeline.apply`; absent: `config.tables`. */
  readonly tables?: CapturedTables | undefined;
}

const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** zongji schema filters from `database.table` / `database.*` patterns, plus the agent's own tables (heartbeat, snapshot signal), whose rows the capture reads and never forwards. */
export function schemaFilters(tables: readonly string[], ...own: (string | null)[]): { include: Record<string, string[] | true> | undefined; exclude: Record<string, true> | undefined } {
  if (tables.length === 0) return { include: undefined, exclude: Object.fromEntries(SYSTEM_SCHEMAS.map((s) => [s, true] as const)) };
  const include: Record<string, string[] | true> = {};
  for (const t of [...tables, ...own.filter((o): o is string => o !== null)]) {
    const dot = t.indexOf('.');
    const db = t.slice(0, dot);
    const table = t.slice(dot + 1);
    const cur = include[db];
    if (table === '*') include[db] = true;
    else if (cur !== true) include[db] = [...(cur ?? []), table];
  }
  return { include, exclude: undefined };
}

export class MySqlSource implements ChangeSource {
  readonly id: string;
  private connected = false;
  private confirmed = 0n;
  private capture: Capture | null = null;
  private lastError: string | null = null;
  /** The running session's heartbeat timer, if any. */
  private heartbeat: HeartbeatTimer | null = null;
  private captured = 0;
  private serverPosition = 0n;
  private readonly snapshotReader: MySqlSnapshotSource;
  /** Incremental snapshots beside the stream (agent/snapshot/): commands and progress. */
  readonly snapshots: SnapshotEngine<MySqlChunkMeta>;

  readonly tables: CapturedTables;
  /** Ends the current binlog session (the run loop starts the next one at once, from the spool's position). */
  private endSession: (() => void) | null = null;

  constructor(private readonly options: MySqlSourceOptions) {
    this.id = options.config.id;
    this.tables = options.tables ?? CapturedTables.fromConfig(options.config.tables);
    const log = options.log.child('snapshot');
    this.snapshotReader = new MySqlSnapshotSource({
      connection: this.connection(),
      signalTable: options.config.snapshot.signalTable,
      zeroDates: options.config.zeroDates,
      log,
      capture: () => (this.connected ? this.capture : null),
    });
    this.snapshots = new SnapshotEngine({
      source: this.snapshotReader,
      buffer: options.buffer,
      log,
      settings: options.config.snapshot,
      ...(options.control ? { onProgress: progressEmitter(options.control) } : {}),
    });
    if (options.control) registerSnapshotCommands(options.control, this.snapshots);
  }

  /**
   * `pipeline.apply`: the binlog reader's schema filters are fixed per
   * session, so the session is ended and the next one starts with the new
   * set from the last spooled transaction (as after any reconnect: nothing
   * spooled is read twice, nothing after it is missed).
   */
  async applyTables(patterns: readonly string[]): Promise<{ mode: 'filter' }> {
    this.tables.replace(patterns);
    this.endSession?.();
    return { mode: 'filter' };
  }

  /** zongji filters for the current set: none named means nothing included. */
  private filters(): ReturnType<typeof schemaFilters> {
    const t = this.tables.current;
    const { heartbeatTable, snapshot } = this.options.config;
    if (t.all) return schemaFilters(this.options.config.tables, heartbeatTable, snapshot.signalTable);
    if (t.patterns.length > 0) return schemaFilters(t.patterns, heartbeatTable, snapshot.signalTable);
    const own = [heartbeatTable, snapshot.signalTable].filter((o): o is string => o !== null);
    return own.length === 0 ? { include: {}, exclude: undefined } : schemaFilters(own);
  }

  status(): SourceStatus {
    const server = this.capture?.serverPosition ?? 0n;
    if (server > this.serverPosition) this.serverPosition = server;
    return {
      connected: this.connected,
      confirmedPosition: this.confirmed,
      serverPosition: this.serverPosition > this.confirmed ? this.serverPosition : this.confirmed,
      backPressure: this.capture?.backPressure ?? false,
      eventsCaptured: this.captured + (this.capture?.eventsCaptured ?? 0),
      lastError: this.lastError,
      heartbeatIntervalMs: this.heartbeat?.stopped === false ? this.heartbeat.intervalMs : 0,
    };
  }

  async run(signal: AbortSignal): Promise<void> {
    try {
      await this.snapshots.runBeside(() => this.stream(signal), signal);
    } finally {
      await this.snapshotReader.close();
    }
  }

  private async stream(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialMs: 250, maxMs: 30_000 });
    const log = this.options.log;
    while (!signal.aborted) {
      try {
        await this.session(signal, () => backoff.reset());
        if (signal.aborted) return;
        log.warn('binlog connection ended; reconnecting');
      } catch (cause) {
        const err = classify(cause);
        this.lastError = err.message;
        if (signal.aborted) return;
        if (retryDirective(err.kind) !== 'retry') {
          log.error('source stopped: this needs attention', { error: err });
          throw err;
        }
        log.warn('source session failed; retrying', { error: err });
      } finally {
        this.connected = false;
        this.snapshots.hooks.sessionStarted();
        if (this.capture !== null) this.captured += this.capture.eventsCaptured;
        this.capture = null;
      }
      await backoff.wait(signal);
    }
  }

  /** Heartbeat rows while the session streams, when a heartbeat table is configured. */
  private async heartbeats(capture: Capture, signal: AbortSignal): Promise<void> {
    const { config, log } = this.options;
    if (config.heartbeatTable === null || config.heartbeatIntervalMs === 0) return;
    const writer = new MySqlHeartbeatWriter(this.connection(), config.heartbeatTable, config.id, config.user);
    const timer = new HeartbeatTimer({ intervalMs: config.heartbeatIntervalMs, writer, log, paused: () => capture.backPressure });
    this.heartbeat = timer;
    try {
      await timer.run(signal);
    } finally {
      if (this.heartbeat === timer) this.heartbeat = null;
    }
  }

  private connection(): { host: string; port: number; user: string; password: string | undefined } {
    const c = this.options.config;
    return { host: c.host, port: c.port, user: c.user, password: c.password?.reveal() };
  }

  /** Pre-flight, the start position (a new spool first records the server's current end) and the captured tables. */
  private async prepare(): Promise<{ start: ResumePosition; tables: string[] }> {
    const { config, buffer, log } = this.options;
    let conn: mysql.Connection | null = null;
    try {
      const { password, ...c } = this.connection();
      conn = await mysql.createConnection({ ...c, ...(password !== undefined ? { password } : {}), connectTimeout: 10_000, supportBigNumbers: true, bigNumberStrings: true });
      const info = await preflight(conn, config);
      const tables = await snapshotTables(conn, config.tables, SYSTEM_SCHEMAS, [config.snapshot.signalTable, config.heartbeatTable]);
      const stored = buffer.state().sourceState ?? null;
      if (stored !== null) {
        const start = decodeResume(stored);
        await checkRetained(conn, info, start);
        return { start, tables };
      }
      const start = await currentEnd(conn, info);
      await buffer.append(new BatchBuilder().build(commitPosition(start.file, start.pos), true), commitPosition(start.file, start.pos), [], encodeResume(start));
      log.info('new spool: capturing from the server\'s current end (earlier changes need a snapshot)', { file: start.file, pos: start.pos, server: info.version });
      return { start, tables };
    } catch (cause) {
      throw classify(cause);
    } finally {
      await conn?.end().catch(() => undefined);
    }
  }

  private async session(signal: AbortSignal, onStreaming: () => void): Promise<void> {
    const { config, buffer, log } = this.options;
    // Pieces of a transaction the last session did not finish go first: the
    // server resends it whole, and a boundary appended by prepare() must not
    // make them visible.
    await buffer.discardUncommitted();
    const { start, tables } = await this.prepare();
    let stream: BinlogStream | null = null;
    const session = new AbortController();
    const onAbort = (): void => session.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const capture = new Capture({
      buffer,
      target: {
        confirm: (p) => {
          if (p > this.confirmed) this.confirmed = p;
        },
        pause: () => stream?.pause(),
        resume: () => stream?.resume(),
        stop: () => stream?.stop(),
      },
      log,
      batchLimit: this.options.batchLimit,
      zeroDates: config.zeroDates,
      signal: session.signal,
      start,
      mysqlGtidSet: () => stream?.gtidSet,
      snapshots: { hooks: this.snapshots.hooks, signalTable: config.snapshot.signalTable },
      notify: (kind, payload) => this.options.control?.emit(kind, payload),
      heartbeatTable: config.heartbeatTable,
    });
    // Windows opened in an earlier session can no longer close in this one.
    this.snapshots.hooks.sessionStarted();
    this.capture = capture;
    const filters = this.filters();
    stream = new BinlogStream({
      connection: this.connection(),
      serverId: config.serverId,
      start,
      includeSchema: filters.include,
      excludeSchema: filters.exclude,
      heartbeatMs: config.heartbeatMs,
      onEvent: (e) => {
        if (capture.error === null) capture.handle(e);
      },
    });
    const current = stream;
    session.signal.addEventListener('abort', () => current.stop(), { once: true });
    this.endSession = () => session.abort();
    if (signal.aborted) {
      signal.removeEventListener('abort', onAbort);
      return;
    }
    this.confirmed = buffer.state().committedPosition;
    this.connected = true;
    log.info('streaming', { serverId: config.serverId, from: start.gtid !== null ? formatGtid(start.gtid) : `${start.file}:${start.pos}` });
    onStreaming();
    this.snapshots.include(tables.filter((t) => this.tables.accepts(...splitTable(t))));
    const heartbeats = this.heartbeats(capture, session.signal);
    try {
      await stream.run();
    } catch (cause) {
      capture.fail(cause instanceof AgentError ? cause : classify(cause));
    } finally {
      signal.removeEventListener('abort', onAbort);
      session.abort();
      await capture.drain();
      await heartbeats;
    }
    if (capture.error !== null) throw capture.error;
  }
}
