/** The `mysql` source's configuration (MySQL 8 / MariaDB 10.5+ binlog), parsed with the agent's FieldReader. */
import { heartbeatInterval, type FieldReader, type Secret } from '../../config.js';
import { parseSnapshotConfig, type SnapshotConfig } from '../../snapshot/config.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * What to do with a zero or partial-zero date (`0000-00-00`, `2024-00-10`),
 * which no other system can hold: `null` lands NULL and logs a warning once
 * per column; `error` stops the source with an error naming the row's table
 * and column.
 */
export type ZeroDatePolicy = 'null' | 'error';

export interface MySqlSourceConfig {
  readonly kind: 'mysql';
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: Secret | null;
  /** This agent's replica server_id: unique among the server's replicas and the server itself. */
  readonly serverId: number;
  /** `database.table` or `database.*`; empty = every table outside the system databases. */
  readonly tables: readonly string[];
  readonly zeroDates: ZeroDatePolicy;
  /** How often the server sends a heartbeat when idle, so lag is known. */
  readonly heartbeatMs: number;
  /** `database.table` the agent writes a heartbeat row into (freshness when idle); null = no heartbeats. */
  readonly heartbeatTable: string | null;
  /** How often the heartbeat row is written; 0 = off. */
  readonly heartbeatIntervalMs: number;
  /** Incremental snapshots (README, "Snapshots"); `signalTable` null = read-only watermarks (MariaDB). */
  readonly snapshot: SnapshotConfig;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const TABLE = /^[A-Za-z0-9_$]+\.(\*|[A-Za-z0-9_$]+)$/;
const FIELDS = ['kind', 'id', 'host', 'port', 'user', 'password', 'serverId', 'tables', 'zeroDates', 'heartbeatMs', 'heartbeatTable', 'heartbeatIntervalMs', 'snapshot'];
const HEARTBEAT_TABLE = /^[A-Za-z0-9_$]+\.[A-Za-z0-9_$]+$/;
const SYSTEM_DATABASES = ['mysql', 'sys', 'information_schema', 'performance_schema'];

export function parseMySqlSource(r: FieldReader, o: Record<string, Json>): MySqlSourceConfig {
  r.unknownKeys(o, FIELDS, 'source');
  const tablesRaw = o['tables'] ?? [];
  const tables: string[] = [];
  if (!Array.isArray(tablesRaw)) r.errors.push('source.tables: expected an array of "database.table" or "database.*"');
  else
    tablesRaw.forEach((t, i) => {
      if (typeof t !== 'string' || !TABLE.test(t)) r.errors.push(`source.tables[${i}]: expected "database.table" or "database.*", got ${JSON.stringify(t)}`);
      else tables.push(t);
    });
  if (o['serverId'] === undefined)
    r.errors.push('source.serverId: required: a replica server_id unique among the server and its replicas (the binlog client library\'s default of 1 collides with most servers)');
  const zeroDates = r.string(o, 'zeroDates', 'source', { default: 'null', pattern: /^(null|error)$/, hint: '"null" or "error"' });
  return {
    kind: 'mysql',
    id: r.string(o, 'id', 'source', { pattern: NAME, hint: 'a name of letters, digits, "_", "-", "." (max 63)' }),
    host: r.string(o, 'host', 'source', { default: '127.0.0.1' }),
    port: r.int(o, 'port', 'source', 1, 65535, 3306),
    user: r.string(o, 'user', 'source'),
    password: r.secret(o, 'password', 'source'),
    serverId: o['serverId'] === undefined ? 0 : r.int(o, 'serverId', 'source', 2, 4294967295),
    tables,
    zeroDates: zeroDates as ZeroDatePolicy,
    heartbeatMs: r.int(o, 'heartbeatMs', 'source', 100, 60_000, 1000),
    heartbeatTable: heartbeatTable(r, o),
    heartbeatIntervalMs: heartbeatInterval(r, o),
    snapshot: parseSnapshotConfig(r, o['snapshot'], 'source.snapshot'),
  };
}

function heartbeatTable(r: FieldReader, o: Record<string, Json>): string | null {
  if (o['heartbeatTable'] === undefined || o['heartbeatTable'] === null) return null;
  const t = r.string(o, 'heartbeatTable', 'source', { pattern: HEARTBEAT_TABLE, hint: 'a "database.table" name (letters, digits, _ and $)' });
  if (SYSTEM_DATABASES.includes(t.split('.')[0]?.toLowerCase() ?? '')) r.errors.push(`source.heartbeatTable: ${JSON.stringify(t)} is in a system database; use a database of its own, e.g. "tributary.heartbeat"`);
  return t === '' ? null : t;
}
