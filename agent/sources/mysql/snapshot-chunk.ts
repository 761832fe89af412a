/**
 * Keyset-paginated chunk reads by primary key (composite keys too):
 * `WHERE (k1 > v1) OR (k1 = v1 AND k2 > v2) ... ORDER BY k1, k2 LIMIT n`,
 * an index range scan that never re-reads or skips a row and holds no lock
 * (InnoDB's consistent read).
 *
 * Values come back in the form the binlog reader yields (numbers, exact
 * decimal strings for DECIMAL and 64-bit integers, Buffers for binary data
 * and BIT, the server's text for temporal values with the session in UTC),
 * so RowConverter turns them into the same typed values. FLOAT is read as
 * `CAST(f AS DOUBLE)`: the text protocol prints a FLOAT with 6 significant
 * digits, a DOUBLE with as many as round-trip, and every FLOAT is a DOUBLE
 * exactly.
 */
import mysql from 'mysql2/promise';
import { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { AgentError } from '../../errors.js';
import type { SnapshotTable } from './snapshot-shape.js';
import { MySqlType } from './types.js';

/**
 * The last key read, one text per key column in the key's declared order
 * (the engine's ChunkKey): numbers as exact decimal text, binary values as
 * hex, temporal values as the server's text; null before the first chunk.
 */
export type ChunkCursor = readonly string[];

export interface RawChunk {
  /** Rows as values in column order. */
  readonly rows: readonly unknown[][];
  /** The cursor after this chunk (its last row's key), or the given cursor when the chunk is empty. */
  readonly last: ChunkCursor | null;
}

const NUMERIC_KINDS = new Set([ValueKind.INT16, ValueKind.INT32, ValueKind.INT64, ValueKind.DECIMAL, ValueKind.FLOAT32, ValueKind.FLOAT64]);
const NUMERIC = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;

const ESCAPES: Readonly<Record<string, string>> = { '\0': '\\0', '\n': '\\n', '\r': '\\r', '\b': '\\b', '\t': '\\t', '\x1a': '\\Z', "'": "\\'", '"': '\\"', '\\': '\\\\' };

/** A string literal for a session without NO_BACKSLASH_ESCAPES (prepareSnapshotSession). */
export function escapeString(s: string): string {
  return `'${s.replace(/[\0\n\r\b\t\x1a'"\\]/g, (c) => ESCAPES[c] ?? c)}'`;
}

export function quoteIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

export interface SnapshotConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
}

/** A connection for chunk reads: values exact and as text where the binlog reader gives text (JSON too). */
export async function openSnapshotConnection(c: SnapshotConnection): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({
    host: c.host,
    port: c.port,
    user: c.user,
    ...(c.password !== undefined ? { password: c.password } : {}),
    charset: 'utf8mb4_unicode_ci',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    jsonStrings: true,
    connectTimeout: 10_000,
  });
  try {
    await prepareSnapshotSession(conn);
    return conn;
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

/** Session settings every snapshot connection runs with (see the module comment). */
export async function prepareSnapshotSession(conn: mysql.Connection): Promise<void> {
  const [rows] = await conn.query('SELECT @@SESSION.sql_mode AS m');
  const mode = String((rows as { m: unknown }[])[0]?.m ?? '')
    .split(',')
    .filter((m) => m !== '' && m !== 'NO_BACKSLASH_ESCAPES')
    .join(',');
  // Literals are escaped with backslashes (mysql2's escape); TIMESTAMP reads
  // in UTC, as the binlog reader reads it.
  await conn.query("SET SESSION time_zone = '+00:00', SESSION sql_mode = ?", [mode]);
}

export class ChunkReader {
  private readonly selectList: string;
  private readonly from: string;
  private readonly orderBy: string;
  private readonly keyIdents: readonly string[];

  constructor(readonly shape: SnapshotTable) {
    if (shape.keyOrder.length === 0) throw new AgentError('source-misconfigured', `${shape.tableKey}: has no primary key to read it in chunks`);
    for (const k of shape.keyOrder) {
      const c = shape.columns[k]!;
      if (c.type === MySqlType.ENUM || c.type === MySqlType.SET)
        throw new AgentError(
          'source-misconfigured',
          `${shape.tableKey}.${c.name}: an ENUM or SET primary key column sorts by index but compares by text, so it cannot be read in key order; exclude the table from snapshots`,
        );
    }
    this.selectList = shape.columns.map((c) => (c.type === MySqlType.FLOAT ? `CAST(${quoteIdent(c.name)} AS DOUBLE)` : quoteIdent(c.name))).join(', ');
    this.from = `${quoteIdent(shape.db)}.${quoteIdent(shape.table)}`;
    this.keyIdents = shape.keyOrder.map((k) => quoteIdent(shape.columns[k]!.name));
    this.orderBy = this.keyIdents.join(', ');
  }

  sql(after: ChunkCursor | null, limit: number): string {
    const where = after === null ? '' : ` WHERE ${this.after(after)}`;
    return `SELECT ${this.selectList} FROM ${this.from}${where} ORDER BY ${this.orderBy} LIMIT ${Math.max(1, Math.floor(limit))}`;
  }

  async read(conn: mysql.Connection, after: ChunkCursor | null, limit: number): Promise<RawChunk> {
    const [rows] = await conn.query({ sql: this.sql(after, limit), rowsAsArray: true });
    const list = rows as unknown[][];
    const lastRow = list[list.length - 1];
    return { rows: list, last: lastRow === undefined ? after : this.cursorOf(lastRow) };
  }

  /** The cursor value of a row's key. */
  cursorOf(row: readonly unknown[]): ChunkCursor {
    return this.shape.keyOrder.map((k) => {
      const v = row[k];
      if (Buffer.isBuffer(v)) return v.toString('hex');
      if (typeof v === 'string') return v;
      if (typeof v === 'number') return String(v);
      throw new AgentError('internal', `${this.shape.tableKey}.${this.shape.columns[k]!.name}: a primary key value read as ${v === null ? 'NULL' : typeof v}`);
    });
  }

  /** `(k1 > v1) OR (k1 = v1 AND k2 > v2) ...`: MariaDB and MySQL both plan it as a range on the primary key. */
  private after(cursor: ChunkCursor): string {
    if (cursor.length !== this.keyIdents.length)
      throw new AgentError('spool-corrupt', `${this.shape.tableKey}: the stored snapshot cursor has ${cursor.length} key values, the primary key ${this.keyIdents.length}`);
    const lits = cursor.map((v, i) => this.literal(v, i));
    const terms: string[] = [];
    for (let i = 0; i < lits.length; i++) {
      const eq = lits.slice(0, i).map((l, j) => `${this.keyIdents[j]} = ${l}`);
      terms.push(`(${[...eq, `${this.keyIdents[i]} > ${lits[i]}`].join(' AND ')})`);
    }
    return terms.join(' OR ');
  }

  private literal(v: string, i: number): string {
    const c = this.shape.columns[this.shape.keyOrder[i]!]!;
    if (c.kind === ValueKind.BYTES) {
      if (!/^(?:[0-9a-f]{2})*$/i.test(v)) throw new AgentError('spool-corrupt', `${this.shape.tableKey}.${c.name}: malformed stored key bytes`);
      return `X'${v}'`;
    }
    // Numbers are inlined as the exact text read, never rounded through a double.
    if (NUMERIC_KINDS.has(c.kind)) {
      if (!NUMERIC.test(v)) throw new AgentError('spool-corrupt', `${this.shape.tableKey}.${c.name}: key value ${JSON.stringify(v)} is not a number`);
      return v;
    }
    return escapeString(v);
  }
}
