/**
 * PostgreSQL heartbeats: `pg_logical_emit_message(true, 'tributary.heartbeat', …)`
 * writes a transactional logical decoding message into the WAL. pgoutput
 * sends it (the stream asks for `messages 'true'`) inside its own
 * Begin/Commit, whose commit time is the server's clock, so the agent
 * captures a transaction with no rows and spools its commit time and
 * position like any other. No table is written, and the function needs no
 * privilege beyond LOGIN on the source database (it fails on a standby,
 * which cannot write WAL).
 */
import pg from 'pg';
import type { HeartbeatFailure, HeartbeatWriter } from '../heartbeat-timer.js';

export const HEARTBEAT_PREFIX = 'tributary.heartbeat';
const BEAT_TIMEOUT_MS = 10_000;

/** SQLSTATEs after which heartbeats cannot work in this session: no permission, or a server that cannot write WAL. */
const OFF_SQLSTATES: Readonly<Record<string, string>> = {
  '42501': 'GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO <agent user>',
  '25006': 'point the agent at the primary (a read-only server cannot write heartbeats)',
  '55000': 'set wal_level = logical and point the agent at the primary',
  '42883': 'PostgreSQL 9.6 or newer provides pg_logical_emit_message',
};

export class PostgresHeartbeatWriter implements HeartbeatWriter {
  private client: pg.Client | null = null;

  constructor(
    private readonly config: pg.ClientConfig,
    /** The source id, written into the message so a person reading the WAL knows whose it is. */
    private readonly sourceId: string,
  ) {}

  async beat(): Promise<void> {
    if (this.client === null) {
      // Bounded: a beat never hangs on a server that stopped answering (the next one reconnects).
      const client = new pg.Client({ ...this.config, query_timeout: BEAT_TIMEOUT_MS });
      // An idle connection the server drops must not become an uncaught 'error'.
      client.on('error', () => undefined);
      try {
        await client.connect();
      } catch (cause) {
        await client.end().catch(() => undefined);
        throw cause;
      }
      this.client = client;
    }
    try {
      await this.client.query('SELECT pg_logical_emit_message(true, $1, $2)', [HEARTBEAT_PREFIX, JSON.stringify({ source: this.sourceId, at: new Date().toISOString() })]);
    } catch (cause) {
      // A broken connection is replaced at the next beat.
      await this.close();
      throw cause;
    }
  }

  classify(cause: unknown): HeartbeatFailure {
    const code = (cause as { code?: unknown } | null)?.code;
    const text = cause instanceof Error ? cause.message : String(cause);
    if (typeof code === 'string' && code in OFF_SQLSTATES) return { off: true, message: `PostgreSQL refused the heartbeat (SQLSTATE ${code}): ${text}`, fix: OFF_SQLSTATES[code] as string };
    return { off: false, message: typeof code === 'string' ? `PostgreSQL error (SQLSTATE ${code}): ${text}` : `connection failed: ${text}` };
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}
