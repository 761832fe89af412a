/**
 * Checks a MySQL/MariaDB server before streaming, so a misconfigured server
 * fails with the setting that is wrong and the statement that fixes it
 * instead of a replication error (or silently wrong data) later. Also finds
 * the start position for a new spool, and detects a resume position the
 * server has purged.
 */
import type mysql from 'mysql2/promise';
import { AgentError } from '../../errors.js';
import type { MySqlSourceConfig } from './config.js';
import { binlogFileNumber, formatGtid, parseMariaDbGtids, parseMySqlGtidSet, type ResumePosition } from './position.js';
import { classify } from './stream.js';

/** Binlog retention below this cannot ride out a weekend outage of the hub or the agent. */
export const MIN_RETENTION_SECONDS = 86_400;

export interface ServerInfo {
  readonly mariadb: boolean;
  readonly version: string;
}

type Row = Record<string, unknown>;

export async function variables(conn: mysql.Connection): Promise<Map<string, string>> {
  const [rows] = await conn.query(
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version', 'server_id', 'log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', ` +
      `'log_bin_compress', 'binlog_transaction_compression', 'binlog_expire_logs_seconds', 'expire_logs_days', 'gtid_mode', 'binlog_row_value_options')`,
  );
  return new Map((rows as Row[]).map((r) => [String(r['Variable_name']).toLowerCase(), String(r['Value'])]));
}

function misconfigured(setting: string, value: string, fix: string): AgentError {
  return new AgentError('source-misconfigured', `${setting} is ${JSON.stringify(value)}: ${fix}`);
}

/** One setting that is wrong: its value and the statement that fixes it. */
export interface SettingProblem {
  readonly setting: string;
  readonly value: string;
  readonly fix: string;
  readonly kind: 'source-misconfigured' | 'config';
}

/** The binlog settings the source depends on; throws on the first one that is wrong. */
export function checkSettings(v: ReadonlyMap<string, string>, config: MySqlSourceConfig): ServerInfo {
  const first = settingProblems(v, config)[0];
  if (first !== undefined)
    throw first.kind === 'config' ? new AgentError('config', first.fix) : misconfigured(first.setting, first.value, first.fix);
  return serverInfo(v);
}

export function serverInfo(v: ReadonlyMap<string, string>): ServerInfo {
  const version = v.get('version') ?? '';
  return { mariadb: /mariadb/i.test(version), version };
}

/** Every wrong binlog setting (the doctor lists them all; pre-flight stops at the first). */
export function settingProblems(v: ReadonlyMap<string, string>, config: MySqlSourceConfig): SettingProblem[] {
  const out: SettingProblem[] = [];
  const bad = (setting: string, value: string, fix: string): void => void out.push({ setting, value, fix, kind: 'source-misconfigured' });
  const { mariadb } = serverInfo(v);
  const persist = mariadb ? 'and set it in the server configuration file' : '(SET PERSIST keeps it across restarts)';
  const logBin = (v.get('log_bin') ?? 'OFF').toUpperCase();
  if (logBin !== 'ON' && logBin !== '1') bad('log_bin', logBin, 'the binary log is off; start the server with --log-bin (log_bin cannot be changed at runtime)');
  const check = (name: string, want: string): void => {
    const got = v.get(name);
    if (got === undefined) {
      if (name === 'binlog_row_metadata') bad(name, 'unsupported', 'the server is too old: column names and types come from binlog_row_metadata=FULL (MySQL 8.0.1+, MariaDB 10.5+)');
      return;
    }
    if (got.toUpperCase() !== want)
      bad(name, got, `the source needs ${want}: run SET GLOBAL ${name} = '${want}'; ${persist}, then reconnect the clients that write (the setting applies to new sessions)`);
  };
  check('binlog_format', 'ROW');
  check('binlog_row_image', 'FULL');
  check('binlog_row_metadata', 'FULL');
  if ((v.get('log_bin_compress') ?? 'OFF').toUpperCase() === 'ON') bad('log_bin_compress', 'ON', `compressed binlog events cannot be decoded: run SET GLOBAL log_bin_compress = OFF; ${persist}`);
  if ((v.get('binlog_transaction_compression') ?? 'OFF').toUpperCase() === 'ON')
    bad('binlog_transaction_compression', 'ON', `compressed binlog transactions cannot be decoded: run SET GLOBAL binlog_transaction_compression = OFF; ${persist}`);
  if ((v.get('binlog_row_value_options') ?? '') !== '')
    bad('binlog_row_value_options', v.get('binlog_row_value_options') ?? '', `partial JSON updates cannot be applied: run SET GLOBAL binlog_row_value_options = ''; ${persist}`);
  const seconds = retentionSeconds(v);
  if (seconds > 0 && seconds < MIN_RETENTION_SECONDS) {
    const name = v.has('binlog_expire_logs_seconds') && Number(v.get('binlog_expire_logs_seconds')) > 0 ? 'binlog_expire_logs_seconds' : 'expire_logs_days';
    bad(name, v.get(name) ?? '', `binlogs expire after ${seconds} s, less than the ${MIN_RETENTION_SECONDS} s the agent needs to resume after an outage: run SET GLOBAL binlog_expire_logs_seconds = 604800; ${persist}`);
  }
  if (Number(v.get('server_id')) === config.serverId)
    out.push({
      setting: 'server_id',
      value: String(config.serverId),
      fix: `source.serverId ${config.serverId} equals the server's own server_id: choose a replica id unique among the server and its replicas`,
      kind: 'config',
    });
  return out;
}

/** 0 = never expire. */
export function retentionSeconds(v: ReadonlyMap<string, string>): number {
  const seconds = Number(v.get('binlog_expire_logs_seconds') ?? 0);
  if (seconds > 0) return seconds;
  return Math.round(Number(v.get('expire_logs_days') ?? 0) * 86_400);
}

/** REPLICATION SLAVE (reading the binlog) and SELECT (row metadata) from SHOW GRANTS. */
export function checkGrants(grants: readonly string[], user: string): void {
  const missing = missingGrants(grants);
  if (missing.length > 0)
    throw new AgentError(
      'source-permission',
      `user ${user} lacks ${missing.join(', ')}: ${grantFix(missing, user)}`,
    );
}

export function grantFix(missing: readonly string[], user: string): string {
  return `run GRANT ${missing.join(', ')} ON *.* TO '${user}'@'%'; (MariaDB 10.5+ calls REPLICATION CLIENT "BINLOG MONITOR")`;
}

/** The privileges SHOW GRANTS lacks, by name. */
export function missingGrants(grants: readonly string[]): string[] {
  const global = grants.filter((g) => /\bON \*\.\* TO\b/i.test(g)).join(' ').toUpperCase();
  const all = global.includes('ALL PRIVILEGES');
  const missing: string[] = [];
  if (!all && !global.includes('REPLICATION SLAVE')) missing.push('REPLICATION SLAVE');
  if (!all && !/REPLICATION CLIENT|BINLOG MONITOR|SLAVE MONITOR|REPLICA MONITOR/.test(global)) missing.push('REPLICATION CLIENT');
  if (!all && !/\bSELECT\b/.test(global) && !grants.some((g) => /^GRANT\s+(.*\bSELECT\b|ALL PRIVILEGES).* ON /i.test(g))) missing.push('SELECT');
  return missing;
}

/** MySQL 8.2+ renamed SHOW MASTER STATUS (and 8.4 removed it): fall back on a syntax error. */
async function binlogStatus(conn: mysql.Connection): Promise<Row[]> {
  try {
    return (await conn.query('SHOW MASTER STATUS'))[0] as Row[];
  } catch (cause) {
    if ((cause as { errno?: unknown }).errno !== ER_PARSE_ERROR) throw cause;
    return (await conn.query('SHOW BINARY LOG STATUS'))[0] as Row[];
  }
}

const ER_PARSE_ERROR = 1064;

/** The server's current end: where a new spool starts. */
export async function currentEnd(conn: mysql.Connection, info: ServerInfo): Promise<ResumePosition> {
  const r = (await binlogStatus(conn))[0];
  if (r === undefined) throw new AgentError('source-misconfigured', 'SHOW MASTER STATUS returned nothing: the binary log is off; start the server with --log-bin');
  const file = String(r['File']);
  const pos = Number(r['Position']);
  let gtid = null;
  if (info.mariadb) {
    // The GTID position at exactly this file/offset: a transaction committing
    // between two separate reads could otherwise be skipped by one and
    // counted by the other.
    const [g] = await conn.query('SELECT BINLOG_GTID_POS(?, ?) AS pos', [file, pos]);
    gtid = parseMariaDbGtids(String((g as Row[])[0]?.['pos'] ?? ''));
  } else {
    // MySQL reports file, offset and executed set in one row.
    const set = String(r['Executed_Gtid_Set'] ?? '').trim();
    if (set !== '') gtid = parseMySqlGtidSet(set);
  }
  return { gtid, file, pos };
}

/**
 * Throws when the server no longer has the binlog the agent must resume
 * from: the oldest binlog starts after the spooled position. Never skips to
 * the oldest available binlog.
 */
export async function checkRetained(conn: mysql.Connection, info: ServerInfo, start: ResumePosition): Promise<void> {
  const [logs] = await conn.query('SHOW BINARY LOGS');
  const oldest = String((logs as Row[])[0]?.['Log_name'] ?? '');
  if (oldest === '') return;
  let purged = false;
  if (info.mariadb && start.gtid?.flavor === 'mariadb') {
    const [g] = await conn.query('SELECT BINLOG_GTID_POS(?, 4) AS pos', [oldest]);
    const first = parseMariaDbGtids(String((g as Row[])[0]?.['pos'] ?? ''));
    if (first.flavor === 'mariadb') {
      const ours = new Map(start.gtid.domains.map((d) => [d.domain, d.seq]));
      // The oldest binlog begins after first's GTIDs: a domain we are behind on lost events.
      purged = first.domains.some((d) => (ours.get(d.domain) ?? -1n) < d.seq);
    }
  } else if (start.gtid === null) {
    purged = binlogFileNumber(start.file) < binlogFileNumber(oldest);
  }
  if (purged)
    throw new AgentError(
      'source-misconfigured',
      `the binlog this agent must resume from was purged: the spool ends at ${start.gtid !== null ? `GTID ${formatGtid(start.gtid)}` : ''} ` +
        `(${start.file}:${start.pos}) but the server's oldest binlog is ${oldest}. Changes in between are lost to this agent: the source is stopped, ` +
        `and the tables need a re-snapshot (or a new spool, which starts at the server's current end). Keep binlogs longer (binlog_expire_logs_seconds) to avoid this.`,
    );
}

/** All checks, on the caller's connection. */
export async function preflight(conn: mysql.Connection, config: MySqlSourceConfig): Promise<ServerInfo> {
  try {
    const info = checkSettings(await variables(conn), config);
    const [grants] = await conn.query('SHOW GRANTS');
    checkGrants((grants as Row[]).map((r) => String(Object.values(r)[0] ?? '')), config.user);
    return info;
  } catch (cause) {
    throw classify(cause);
  }
}
