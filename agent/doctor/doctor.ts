/**
 * The doctor: opens one ordinary connection to the configured source, runs
 * its checks and closes it. A source it cannot reach is itself a finding,
 * never an exception, so the CLI and the running agent always get a report.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { PostgresSourceConfig, SourceConfig } from '../config.js';
import type { MySqlSourceConfig } from '../sources/mysql/config.js';
import { critical, type DoctorReport, type Finding } from './finding.js';
import { checkMySql } from './mysql.js';
import { checkPostgres, walSample } from './postgres.js';
import type { SlotThresholds, WalSample } from './postgres-slot.js';

export interface DoctorOptions {
  /** The agent streams from the source now (continuous doctor): a missing slot or an inactive one is then a problem. */
  readonly running: boolean;
  /** The agent's confirmed source position (MySQL: a purged binlog is detected from it). */
  readonly position?: bigint | null;
  readonly thresholds?: SlotThresholds;
}

function pgClient(c: PostgresSourceConfig): pg.Client {
  return new pg.Client({
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.user,
    ...(c.password === null ? {} : { password: c.password.reveal() }),
    application_name: `tributary-doctor-${c.id}`,
    connectionTimeoutMillis: 10_000,
    statement_timeout: 30_000,
  });
}

async function mysqlConnection(c: MySqlSourceConfig): Promise<mysql.Connection> {
  return mysql.createConnection({ host: c.host, port: c.port, user: c.user, ...(c.password === null ? {} : { password: c.password.reveal() }), connectTimeout: 10_000 });
}

function unreachable(config: SourceConfig, cause: unknown, connected: boolean): Finding {
  const code = (cause as { code?: unknown }).code;
  const detail = cause instanceof Error ? cause.message : String(cause);
  if (connected)
    return critical('query', `a check query on source ${config.id} failed${typeof code === 'string' ? ` (${code})` : ''}: ${detail}`, 'check the privileges of source.user (see the other findings)');
  return critical(
    'connection',
    `cannot query source ${config.id} at ${config.host}:${config.port}${typeof code === 'string' ? ` (${code})` : ''}: ${detail}`,
    config.kind === 'postgres' ? 'check source.host, port, database, user and password, and pg_hba.conf on the server' : 'check source.host, port, user and password, and that the server accepts TCP connections',
  );
}

/**
 * Checks a source once and keeps the last WAL sample, so each run measures
 * the WAL rate since the previous one (the continuous doctor runs it every
 * minute; the CLI takes a baseline sample first).
 */
export class Doctor {
  private previous: WalSample | null = null;

  constructor(
    private readonly config: SourceConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** A WAL baseline for the next check's rate (PostgreSQL only; a failure leaves none). */
  async baseline(): Promise<void> {
    const c = this.config;
    if (c.kind !== 'postgres') return;
    const client = pgClient(c);
    try {
      await client.connect();
      this.previous = await walSample(client, c.slot, this.now());
    } catch {
      this.previous = null;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async check(options: DoctorOptions): Promise<DoctorReport> {
    const checkedAt = new Date(this.now()).toISOString();
    const c = this.config;
    let connected = false;
    try {
      if (c.kind === 'postgres') {
        const client = pgClient(c);
        client.on('error', () => undefined);
        try {
          await client.connect();
          connected = true;
          const r = await checkPostgres(client, c, { running: options.running, previous: this.previous, nowMs: this.now(), ...(options.thresholds ? { thresholds: options.thresholds } : {}) });
          this.previous = r.sample;
          return { checkedAt, findings: r.findings };
        } finally {
          await client.end().catch(() => undefined);
        }
      }
      const conn = await mysqlConnection(c);
      conn.on('error', () => undefined);
      connected = true;
      try {
        return { checkedAt, findings: await checkMySql(conn, c, { position: options.position ?? null }) };
      } finally {
        await conn.end().catch(() => undefined);
      }
    } catch (cause) {
      return { checkedAt, findings: [unreachable(c, cause, connected)] };
    }
  }
}
