/**
 * Doctor checks of a MySQL/MariaDB source: the settings pre-flight checks
 * (binlog format, row image, row metadata, compression, retention, server
 * id) and privileges, all listed rather than stopping at the first; and, while
 * the agent runs, whether the binlog it reads from is still on the server.
 */
import type mysql from 'mysql2/promise';
import type { MySqlSourceConfig } from '../sources/mysql/config.js';
import { grantFix, missingGrants, retentionSeconds, settingProblems, variables } from '../sources/mysql/preflight.js';
import { critical, formatBytes, formatDuration, ok, warning, type Finding } from './finding.js';

export interface MySqlCheckContext {
  /** The agent's confirmed commit position (file number × 2^32 + offset), when it runs. */
  readonly position: bigint | null;
}

type Row = Record<string, unknown>;

function binlogNumber(name: string): number {
  const m = /\.(\d+)$/.exec(name);
  return m === null ? -1 : Number(m[1]);
}

const ER_SPECIFIC_ACCESS_DENIED = 1227;

async function binlogs(conn: mysql.Connection, ctx: MySqlCheckContext, retention: number): Promise<Finding> {
  let rows: unknown;
  try {
    [rows] = await conn.query('SHOW BINARY LOGS');
  } catch (cause) {
    // Without REPLICATION CLIENT / BINLOG MONITOR (reported by the privileges check) the binlogs cannot be listed.
    if ((cause as { errno?: unknown }).errno === ER_SPECIFIC_ACCESS_DENIED) return warning('binlog.retained', 'cannot list the binlogs: the user lacks REPLICATION CLIENT (BINLOG MONITOR)');
    throw cause;
  }
  const logs = (rows as Row[]).map((r) => ({ name: String(r['Log_name']), size: Number(r['File_size'] ?? 0) }));
  const total = logs.reduce((n, l) => n + l.size, 0);
  const oldest = logs[0]?.name ?? '';
  const keep = retention === 0 ? 'binlogs never expire' : `binlogs expire after ${formatDuration(retention)}`;
  if (ctx.position !== null && ctx.position > 0n && oldest !== '') {
    const file = Number(ctx.position >> 32n);
    if (file < binlogNumber(oldest))
      return critical(
        'binlog.retained',
        `the binlog holding the agent's position (file number ${file}) was purged; the oldest on the server is ${oldest}: changes in between are lost to this agent`,
        'keep binlogs longer (SET GLOBAL binlog_expire_logs_seconds = 604800;) and re-snapshot the tables',
      );
  }
  return ok('binlog.retained', `${logs.length} binlog file(s), ${formatBytes(total)}, oldest ${oldest || 'none'}; ${keep}`);
}

/** Every MySQL/MariaDB check on the caller's connection. */
export async function checkMySql(conn: mysql.Connection, config: MySqlSourceConfig, ctx: MySqlCheckContext): Promise<Finding[]> {
  const v = await variables(conn);
  const findings: Finding[] = settingProblems(v, config).map((p) =>
    critical(p.setting, p.kind === 'config' ? p.fix : `${p.setting} is ${JSON.stringify(p.value)}`, p.kind === 'config' ? 'set source.serverId to an unused id' : p.fix),
  );
  if (findings.length === 0)
    findings.push(ok('binlog', `binlog settings fit (${['binlog_format', 'binlog_row_image', 'binlog_row_metadata'].map((n) => `${n}=${v.get(n) ?? '?'}`).join(', ')})`));
  const [grants] = await conn.query('SHOW GRANTS');
  const missing = missingGrants((grants as Row[]).map((r) => String(Object.values(r)[0] ?? '')));
  findings.push(
    missing.length === 0
      ? ok('privileges', `user ${config.user} has REPLICATION SLAVE, REPLICATION CLIENT and SELECT`)
      : critical('privileges', `user ${config.user} lacks ${missing.join(', ')}`, grantFix(missing, config.user)),
  );
  if ((v.get('log_bin') ?? 'OFF').toUpperCase() !== 'OFF') findings.push(await binlogs(conn, ctx, retentionSeconds(v)));
  return findings;
}
