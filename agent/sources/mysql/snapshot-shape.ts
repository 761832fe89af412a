/**
 * A table's shape for snapshot reads, from INFORMATION_SCHEMA, described in
 * exactly the terms the binlog's TABLE_MAP gives (binlog_row_metadata=FULL,
 * as the binlog reader renders it): the same type codes, value kinds and
 * COLUMN_TYPE text, so a snapshot row and a binlog row of the same table
 * convert to the same typed values and share one schema version.
 *
 * What INFORMATION_SCHEMA spells differently from the binlog metadata:
 * integer display widths (`int(11)` → `int`, `year(4)` → `year`), float
 * precision (`float(7,3)` → `float`), TEXT/BLOB named by their length prefix,
 * MariaDB's JSON (a LONGTEXT with a check: the binlog knows only LONGTEXT).
 */
import type mysql from 'mysql2/promise';
import { AgentError } from '../../errors.js';
import { shapeFingerprint } from './table-map.js';
import { MySqlType, valueKind, type MySqlColumn } from './types.js';

export interface SnapshotTable {
  readonly db: string;
  readonly table: string;
  readonly tableKey: string;
  readonly columns: readonly MySqlColumn[];
  /** Primary key columns as indexes into `columns`, in the key's declared order (the index order); empty without one. */
  readonly keyOrder: readonly number[];
  readonly fingerprint: string;
  /** InnoDB's row estimate (TABLE_ROWS), for progress. */
  readonly rowsEstimate: number;
}

const TYPE_CODES: Readonly<Record<string, number>> = {
  tinyint: MySqlType.TINY,
  smallint: MySqlType.SHORT,
  mediumint: MySqlType.INT24,
  int: MySqlType.LONG,
  bigint: MySqlType.LONGLONG,
  float: MySqlType.FLOAT,
  double: MySqlType.DOUBLE,
  decimal: MySqlType.NEWDECIMAL,
  bit: MySqlType.BIT,
  char: MySqlType.STRING,
  binary: MySqlType.STRING,
  varchar: MySqlType.VARCHAR,
  varbinary: MySqlType.VARCHAR,
  tinytext: MySqlType.BLOB,
  text: MySqlType.BLOB,
  mediumtext: MySqlType.BLOB,
  longtext: MySqlType.BLOB,
  tinyblob: MySqlType.BLOB,
  blob: MySqlType.BLOB,
  mediumblob: MySqlType.BLOB,
  longblob: MySqlType.BLOB,
  date: MySqlType.DATE,
  datetime: MySqlType.DATETIME2,
  timestamp: MySqlType.TIMESTAMP2,
  time: MySqlType.TIME2,
  year: MySqlType.YEAR,
  enum: MySqlType.ENUM,
  set: MySqlType.SET,
  json: MySqlType.JSON,
};

/** COLUMN_TYPE as the binlog metadata renders it. */
export function binlogColumnType(dataType: string, columnType: string, mariadb: boolean): string {
  const t = columnType.toLowerCase();
  if (dataType === 'json' && mariadb) return 'longtext';
  if (/^(tinyint|smallint|mediumint|int|bigint|year|float|double)\b/.test(dataType))
    return t.replace(/\(\d+(,\d+)?\)/, '').replace(/ zerofill/, '').trim();
  if (dataType === 'decimal') return t.replace(/ zerofill/, '').trim();
  return t;
}

interface ColumnRow {
  name: string;
  dataType: string;
  columnType: string;
  charset: string | null;
}

/** True when the connection's server is MariaDB. */
export async function isMariaDb(conn: mysql.Connection): Promise<boolean> {
  const [rows] = await conn.query('SELECT VERSION() AS v');
  return /mariadb/i.test(String((rows as { v: unknown }[])[0]?.v ?? ''));
}

/**
 * Reads the table's columns (binlog order: ordinal position) and primary
 * key; throws when the table is missing. `estimate: false` skips the row
 * estimate (0), read once per snapshot rather than per chunk.
 */
export async function readTableShape(conn: mysql.Connection, db: string, table: string, o: { mariadb?: boolean; estimate?: boolean } = {}): Promise<SnapshotTable> {
  const mariadb = o.mariadb ?? (await isMariaDb(conn));
  const [crow] = await conn.query(
    'SELECT COLUMN_NAME AS name, LOWER(DATA_TYPE) AS dataType, COLUMN_TYPE AS columnType, CHARACTER_SET_NAME AS charset ' +
      'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [db, table],
  );
  const rows = crow as ColumnRow[];
  const tableKey = `${db}.${table}`;
  if (rows.length === 0) throw new AgentError('source-misconfigured', `${tableKey}: no such table (or the agent's user may not read it)`);
  const columns = rows.map((r): MySqlColumn => {
    const type = TYPE_CODES[r.dataType];
    if (type === undefined)
      throw new AgentError('source-misconfigured', `${tableKey}.${r.name}: column type ${r.columnType} is not supported; exclude the table from source.tables`);
    const effective = r.dataType === 'json' && mariadb ? MySqlType.BLOB : type;
    const unsigned = /\bunsigned\b/i.test(r.columnType);
    const text = r.charset !== null || (r.dataType === 'json' && mariadb);
    return { name: r.name, type: effective, unsigned, text, sourceType: binlogColumnType(r.dataType, r.columnType, mariadb), kind: valueKind(tableKey, r.name, effective, unsigned, text) };
  });
  const [krows] = await conn.query(
    "SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
    [db, table],
  );
  const names = columns.map((c) => c.name);
  const keyOrder = (krows as { name: string }[]).map((k) => names.indexOf(k.name));
  if (keyOrder.includes(-1)) throw new AgentError('source-unavailable', `${tableKey}: its primary key changed while it was read`);
  let estimate = 0;
  if (o.estimate !== false) {
    const [srows] = await conn.query('SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [db, table]);
    estimate = Number((srows as { n: unknown }[])[0]?.n ?? 0);
  }
  return {
    db,
    table,
    tableKey,
    columns,
    keyOrder,
    fingerprint: shapeFingerprint(columns, keyOrder),
    rowsEstimate: Number.isFinite(estimate) ? estimate : 0,
  };
}
