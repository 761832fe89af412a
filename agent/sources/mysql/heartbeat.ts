/**
 * MySQL/MariaDB heartbeats: the binlog has no message a client may write
 * (like PostgreSQL's pg_logical_emit_message), so the agent upserts one row
 * per source into a small heartbeat table, in its own autocommit
 * transaction. The row's `beat_us` is the server's clock (UTC microseconds),
 * read back from the binlog row image: capture turns the row into the
 * transaction's source time and never ships it as a change.
 *
 * It needs a writable table: the agent creates it when missing (CREATE) and
 * writes it (INSERT, UPDATE). Without those privileges, or on a read-only
 * server, heartbeats switch off with a warning that names the statements that
 * allow them; lag is then known only when rows change.
 */
import mysql from 'mysql2/promise';
import type { HeartbeatFailure, HeartbeatWriter } from '../heartbeat-timer.js';
import type { BinlogConnection } from './stream.js';

/** MySQL errnos after which heartbeats cannot work: no privilege, no database, a read-only server. */
const OFF_ERRNOS = new Set([1044, 1049, 1142, 1290, 1792, 1836]);
const NO_SUCH_TABLE = 1146;
const BEAT_TIMEOUT_MS = 10_000;

/** The heartbeat table's columns (created by the agent, or by a DBA with this statement). */
export function heartbeatTableDdl(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (source_id VARCHAR(64) NOT NULL PRIMARY KEY, beat_us BIGINT NOT NULL)`;
}

/** `db.table` → `` `db`.`table` `` (names are validated by the config: letters, digits, `_`, `$`). */
export function quoteTable(table: string): string {
  return table
    .split('.')
    .map((p) => `\`${p.replace(/`/g, '``')}\``)
    .join('.');
}

export class MySqlHeartbeatWriter implements HeartbeatWriter {
  private conn: mysql.Connection | null = null;

  constructor(
    private readonly connection: BinlogConnection,
    private readonly table: string,
    private readonly sourceId: string,
    private readonly user: string,
  ) {}

  async beat(): Promise<void> {
    const conn = this.conn ?? (await this.connect());
    try {
      await this.upsert(conn).catch(async (cause: unknown) => {
        // No such table: create it (needs CREATE), then write. An existing table needs only INSERT and UPDATE.
        if ((cause as { errno?: unknown }).errno !== NO_SUCH_TABLE) throw cause;
        await conn.query(heartbeatTableDdl(this.table));
        await this.upsert(conn);
      });
    } catch (cause) {
      await this.close();
      throw cause;
    }
  }

  private async upsert(conn: mysql.Connection): Promise<void> {
    // Bounded: a beat never hangs on a server that stopped answering (the next one reconnects).
    await conn.query({
      sql: `INSERT INTO ${quoteTable(this.table)} (source_id, beat_us) VALUES (?, CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)) ON DUPLICATE KEY UPDATE beat_us = VALUES(beat_us)`,
      values: [this.sourceId],
      timeout: BEAT_TIMEOUT_MS,
    });
  }

  private async connect(): Promise<mysql.Connection> {
    const { password, ...c } = this.connection;
    const conn = await mysql.createConnection({ ...c, ...(password !== undefined ? { password } : {}), connectTimeout: 10_000 });
    conn.on('error', () => undefined);
    try {
      // UTC session: UNIX_TIMESTAMP(NOW(6)) is then exact whatever the server's time zone (no DST folds).
      await conn.query("SET time_zone = '+00:00'");
    } catch (cause) {
      await conn.end().catch(() => undefined);
      throw cause;
    }
    this.conn = conn;
    return conn;
  }

  classify(cause: unknown): HeartbeatFailure {
    const errno = (cause as { errno?: unknown } | null)?.errno;
    const text = cause instanceof Error ? cause.message : String(cause);
    if (typeof errno === 'number' && OFF_ERRNOS.has(errno))
      return {
        off: true,
        message: `the server refused the heartbeat write (errno ${errno}): ${text}`,
        fix: `${heartbeatTableDdl(this.table)}; GRANT INSERT, UPDATE ON ${quoteTable(this.table)} TO '${this.user}'@'%' (on a writable server)`,
      };
    return { off: false, message: typeof errno === 'number' && errno > 0 ? `MySQL error (errno ${errno}): ${text}` : `connection failed: ${text}` };
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    await c?.end().catch(() => undefined);
  }
}
