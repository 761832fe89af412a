/**
 * PostgresSource: one replication session at a time, restarted with backoff.
 * Each session: check the server, ensure publication and slot, load the type
 * catalog, stream from the spool's position (or the slot's, for a new spool),
 * and hand every message to Capture.
 */
import type { AgentControl } from '../../uplink/control.js';
import pg from 'pg';
import type { ChangeBuffer } from '../../buffer/change-buffer.js';
import type { BatchLimit } from '../../buffer/batch-builder.js';
import type { PostgresSourceConfig } from '../../config.js';
import { Backoff } from '../../backoff.js';
import { AgentError, retryDirective } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ChangeSource, SourceStatus } from '../change-source.js';
import { Capture } from './capture.js';
import { LookupGate } from './lookup-gate.js';
import { missingValues } from './missing-values.js';
import { HeartbeatTimer } from '../heartbeat-timer.js';
import { PostgresHeartbeatWriter } from './heartbeat.js';
import { REPLICATION_SESSION_SETTINGS } from './convert.js';
import { formatLsn } from './position.js';
import { decodePgOutput } from './protocol.js';
import { ensurePublicationAndSlot, setPublicationTables, type SlotInfo } from './slot.js';
import { CapturedTables } from '../../pipeline/captured-tables.js';
import { ReplicationStream, classify } from './stream.js';
import { PG_TYPE_CATALOG_SQL, PgTypeCatalog, type PgTypeRow } from './types.js';
import { SnapshotEngine } from '../../snapshot/engine.js';
import { progressEmitter, registerSnapshotCommands } from '../../snapshot/commands.js';
import { PostgresSnapshotSource, type PgChunkMeta } from './snapshot.js';

export interface PostgresSourceOptions {
  readonly config: PostgresSourceConfig;
  readonly buffer: ChangeBuffer;
  readonly log: Logger;
  readonly batchLimit: BatchLimit;
  /** Commands from the hub and events to it; absent in tools that run a source without a hub. */
  readonly control?: AgentControl | undefined;
  /** The tables captured, changed at run time by `pipeline.apply`; absent: `config.tables`. */
  readonly tables?: CapturedTables | undefined;
}

export class PostgresSource implements ChangeSource {
  readonly id: string;
  private connected = false;
  private confirmed = 0n;
  private serverPosition = 0n;
  private capture: Capture | null = null;
  private lastError: string | null = null;
  /** The running session's heartbeat timer, if any. */
  private heartbeat: HeartbeatTimer | null = null;
  private captured = 0;
  private readonly snapshotReader: PostgresSnapshotSource;
  /** Incremental snapshots beside the stream (agent/snapshot/): commands and progress. */
  readonly snapshots: SnapshotEngine<PgChunkMeta>;
  readonly tables: CapturedTables;

  constructor(private readonly options: PostgresSourceOptions) {
    this.id = options.config.id;
    this.tables = options.tables ?? CapturedTables.fromConfig(options.config.tables);
    this.snapshotReader = new PostgresSnapshotSource({
      client: this.clientConfig(),
      signalTable: options.config.snapshot.signalTable,
      log: options.log.child('snapshot'),
      warm: options.config.snapshot.initial,
    });
    this.snapshots = new SnapshotEngine({
      source: this.snapshotReader,
      buffer: options.buffer,
      log: options.log.child('snapshot'),
      settings: options.config.snapshot,
      ...(options.control ? { onProgress: progressEmitter(options.control) } : {}),
    });
    if (options.control) registerSnapshotCommands(options.control, this.snapshots);
  }

  /**
   * `pipeline.apply`: a publication the agent manages gets exactly these
   * tables; in every case the capture filter changes at once (a FOR ALL
   * TABLES or unmanaged publication is filtered by the agent only).
   */
  async applyTables(patterns: readonly string[]): Promise<{ mode: 'publication' | 'filter'; publication: string }> {
    const client = new pg.Client(this.clientConfig());
    let altered: boolean;
    try {
      await client.connect();
      altered = await setPublicationTables(this.options.config, client, patterns);
    } catch (cause) {
      throw classify(cause);
    } finally {
      await client.end().catch(() => undefined);
    }
    this.tables.replace(patterns);
    return { mode: altered ? 'publication' : 'filter', publication: this.options.config.publication };
  }

  /** The configuration, with the tables applied last (a publication created now gets those). */
  private publicationConfig(): PostgresSourceConfig {
    const t = this.tables.current;
    return t.all || t.patterns.length === 0 ? this.options.config : { ...this.options.config, tables: t.patterns };
  }

  status(): SourceStatus {
    return {
      connected: this.connected,
      confirmedPosition: this.confirmed,
      serverPosition: this.serverPosition,
      backPressure: this.capture?.backPressure ?? false,
      eventsCaptured: this.captured + (this.capture?.eventsCaptured ?? 0),
      lastError: this.lastError,
      heartbeatIntervalMs: this.heartbeat?.stopped === false ? this.heartbeat.intervalMs : 0,
    };
  }

  private clientConfig(): pg.ClientConfig {
    const c = this.options.config;
    return {
      host: c.host,
      port: c.port,
      database: c.database,
      user: c.user,
      ...(c.password === null ? {} : { password: c.password.reveal() }),
      application_name: `tributary-${c.id}`,
      connectionTimeoutMillis: 10_000,
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
        log.warn('replication connection ended; reconnecting');
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
        if (this.capture !== null) this.captured += this.capture.eventsCaptured;
        this.capture = null;
      }
      await backoff.wait(signal);
    }
  }

  /** Heartbeats into the WAL while the session streams (none when `heartbeatIntervalMs` is 0). */
  private async heartbeats(capture: Capture, signal: AbortSignal): Promise<void> {
    const { config, log } = this.options;
    if (config.heartbeatIntervalMs === 0) return;
    const writer = new PostgresHeartbeatWriter({ ...this.clientConfig(), application_name: `tributary-${config.id}-heartbeat` }, config.id);
    const timer = new HeartbeatTimer({ intervalMs: config.heartbeatIntervalMs, writer, log, paused: () => capture.backPressure });
    this.heartbeat = timer;
    try {
      await timer.run(signal);
    } finally {
      if (this.heartbeat === timer) this.heartbeat = null;
    }
  }

  /** One ordinary connection per session: server checks, publication and slot, then the type catalog. */
  private async prepare(): Promise<{ slot: SlotInfo; catalog: PgTypeCatalog; tables: string[] }> {
    const client = new pg.Client(this.clientConfig());
    try {
      await client.connect();
      const slot = await ensurePublicationAndSlot(this.publicationConfig(), client);
      const { rows } = await client.query<PgTypeRow>(PG_TYPE_CATALOG_SQL);
      const published = await client.query<{ t: string }>("SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1", [this.options.config.publication]);
      const signalTable = this.options.config.snapshot.signalTable;
      return { slot, catalog: new PgTypeCatalog(rows), tables: published.rows.map((r) => r.t).filter((t) => t !== signalTable) };
    } catch (cause) {
      throw classify(cause);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async session(signal: AbortSignal, onStreaming: () => void): Promise<void> {
    const { config, buffer, log } = this.options;
    const { slot, catalog, tables } = await this.prepare();
    await buffer.discardUncommitted();
    const spooled = buffer.state().committedPosition;
    if (spooled !== 0n && spooled < slot.confirmedFlush)
      log.error('the spool is behind the slot: changes between them were confirmed by an earlier spool and are not in this one', {
        spooled: formatLsn(spooled),
        slot: formatLsn(slot.confirmedFlush),
      });
    const startLsn = spooled > slot.confirmedFlush ? spooled : slot.confirmedFlush;
    const session = new AbortController();
    const onAbort = (): void => session.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let stream: ReplicationStream | null = null;
    const capture = new Capture(
      buffer,
      catalog,
      {
        confirm: (lsn) => {
          this.confirmed = lsn > this.confirmed ? lsn : this.confirmed;
          stream?.confirm(lsn);
        },
        pause: () => stream?.pause(),
        resume: () => stream?.resume(),
        stop: () => void stream?.stop(),
      },
      log,
      this.options.batchLimit,
      session.signal,
      this.tables,
      { hooks: this.snapshots.hooks, signalTable: config.snapshot.signalTable },
    );
    // Windows opened in an earlier session can no longer close in this one.
    this.snapshots.hooks.sessionStarted();
    this.capture = capture;
    const gate = new LookupGate(
      capture,
      (relationId) => missingValues(this.clientConfig(), relationId),
      log,
      { pause: () => stream?.pause(), resume: () => stream?.resume() },
      (msg) => {
        // The server has written at least this far (keepalives alone can be 30 s apart): byte lag is measured against it.
        if (msg.tag === 'commit' && msg.endLsn > this.serverPosition) this.serverPosition = msg.endLsn;
      },
    );
    stream = new ReplicationStream({
      client: this.clientConfig(),
      slot: config.slot,
      publication: config.publication,
      startLsn,
      sessionSettings: REPLICATION_SESSION_SETTINGS,
      statusIntervalMs: 5_000,
      onData: (payload) => gate.push(payload),
      onServerPosition: (lsn) => {
        if (lsn > this.serverPosition) this.serverPosition = lsn;
        // Caught up with nothing buffered: the keepalive position holds no
        // change for us, so confirming it lets the server recycle WAL.
        if (capture.idle && gate.idle) stream?.confirm(lsn);
      },
    });
    const current = stream;
    const stopOnAbort = (): void => void current.stop();
    session.signal.addEventListener('abort', stopOnAbort, { once: true });
    // A shutdown that arrived while the session was being set up: an abort
    // listener added to an already aborted signal never fires.
    if (signal.aborted) {
      signal.removeEventListener('abort', onAbort);
      return;
    }
    this.confirmed = startLsn;
    this.connected = true;
    log.info('streaming', { slot: config.slot, publication: config.publication, from: formatLsn(startLsn) });
    onStreaming();
    const heartbeats = this.heartbeats(capture, session.signal);
    this.snapshots.include(tables.filter((t) => this.tables.accepts(t.slice(0, t.indexOf('.')), t.slice(t.indexOf('.') + 1))));
    try {
      await stream.run();
    } finally {
      signal.removeEventListener('abort', onAbort);
      session.abort();
      await capture.drain();
      await heartbeats;
    }
    if (capture.error !== null) throw capture.error;
  }
}
