/**
 * The MySQL/MariaDB side of incremental snapshots (agent/snapshot/): table
 * description, keyset chunks (snapshot-chunk.ts) converted exactly as the
 * binlog path converts rows, and the watermarks, in one of two modes.
 *
 * - Signal table (`source.snapshot.signalTable` set): each watermark is an
 *   INSERT of its id into that table (`id varchar(64) PRIMARY KEY`); the
 *   capture recognises those rows in the binlog and never forwards them, and
 *   the pair is deleted after the high watermark. Needs INSERT and DELETE on
 *   the signal table. Works on MySQL and MariaDB. The SELECT runs after the
 *   low watermark's commit returned and before the high one is written, which
 *   is DBLog's window exactly.
 * - Read-only (no signal table; MariaDB): nothing is written. Each chunk is
 *   read in `START TRANSACTION WITH CONSISTENT SNAPSHOT`, whose status
 *   variables `binlog_snapshot_file` / `binlog_snapshot_position` name the
 *   binlog position the snapshot is exactly consistent with (MariaDB
 *   guarantees it: commits are ordered the same in InnoDB and the binlog).
 *   The low watermark is the capture's own point when the chunk starts
 *   (before the snapshot, so at or before its position: a change between the
 *   two only makes the window drop a row the log already carries); the high
 *   watermark is that binlog position, reached when the capture has read the
 *   binlog up to it. Needs nothing beyond SELECT. MySQL has no such status
 *   variable (its binlog position read beside a snapshot is not atomic with
 *   it), so on MySQL a signal table is required.
 */
import type mysql from 'mysql2/promise';
import { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { AgentError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { PackedRows } from '../../snapshot/chunk-rows.js';
import { WATERMARK_PREFIX, type Chunk, type ChunkKey, type KeyedTable, type SnapshotSource, type TableInfo } from '../../snapshot/snapshot-source.js';
import { RowConverter } from './convert.js';
import type { ZeroDatePolicy } from './config.js';
import { commitPosition } from './position.js';
import { ChunkReader, escapeString, openSnapshotConnection, quoteIdent, type SnapshotConnection } from './snapshot-chunk.js';
import { isMariaDb, readTableShape, type SnapshotTable } from './snapshot-shape.js';
import { classify } from './stream.js';

/** What the capture needs back at the high watermark: the shape the rows were converted with. */
export interface MySqlChunkMeta {
  readonly shape: SnapshotTable;
}

/** The capture's side of read-only watermarks (the current session's Capture). */
export interface VirtualWatermarks {
  /** Opens the window now (the capture's current point). */
  low(id: string): void;
  /** Closes it once the capture has read the binlog up to `position` (file number × 2^32 + offset). */
  high(id: string, position: bigint): void;
}

export interface MySqlSnapshotOptions {
  readonly connection: SnapshotConnection;
  /** `database.table` of the signal table, or null for read-only watermarks. */
  readonly signalTable: string | null;
  readonly zeroDates: ZeroDatePolicy;
  readonly log: Logger;
  /** The running capture session's read-only watermarks, or null between sessions. */
  readonly capture: () => VirtualWatermarks | null;
}

export class MySqlSnapshotSource implements SnapshotSource<MySqlChunkMeta> {
  private conn: { conn: mysql.Connection; mariadb: boolean } | null = null;
  private readonly writer = new RowWriter(4096);
  private readonly readers = new Map<string, { reader: ChunkReader; converter: RowConverter }>();
  /** The binlog position of the last chunk read in read-only mode, for its high watermark. */
  private snapshotAt: bigint | null = null;

  constructor(private readonly options: MySqlSnapshotOptions) {}

  private async use<T>(fn: (c: mysql.Connection, mariadb: boolean) => Promise<T>): Promise<T> {
    try {
      if (this.conn === null) {
        const conn = await openSnapshotConnection(this.options.connection);
        const mariadb = await isMariaDb(conn).catch((e: unknown) => {
          conn.destroy();
          throw e;
        });
        this.conn = { conn, mariadb };
      }
    } catch (cause) {
      throw classify(cause);
    }
    const { conn: c, mariadb } = this.conn;
    try {
      return await fn(c, mariadb);
    } catch (cause) {
      // A failed statement may leave a transaction open: start the retry clean.
      this.conn = null;
      c.destroy();
      throw cause instanceof AgentError ? cause : classify(cause);
    }
  }

  async describe(table: string): Promise<TableInfo> {
    const [db, name] = splitTable(table);
    const shape = await this.use((c, mariadb) => readTableShape(c, db, name, { mariadb }));
    if (shape.keyOrder.length === 0)
      return { kind: 'noKey', table, reason: `${table} has no primary key: snapshots read tables in primary-key chunks; add one, then start its snapshot` };
    return { kind: 'keyed', table, keyColumns: shape.keyOrder.map((k) => shape.columns[k]!.name), rowsEstimate: shape.rowsEstimate };
  }

  async readChunk(table: KeyedTable, after: ChunkKey | null, limit: number): Promise<Chunk<MySqlChunkMeta>> {
    const [db, name] = splitTable(table.table);
    return this.use(async (c, mariadb) => {
      // The shape is read each chunk: a DDL between chunks changes the columns read.
      const shape = await readTableShape(c, db, name, { mariadb, estimate: false });
      if (shape.keyOrder.map((k) => shape.columns[k]!.name).join() !== table.keyColumns.join())
        throw new AgentError('source-unavailable', `${table.table}: its primary key changed during the snapshot`);
      const { reader, converter } = this.readerFor(shape);
      let raw;
      if (this.options.signalTable !== null) raw = await reader.read(c, after, limit);
      else {
        await c.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
        this.snapshotAt = await snapshotPosition(c);
        raw = await reader.read(c, after, limit);
        await c.query('COMMIT');
      }
      // Keys and row images back to back in one buffer (chunk-rows.ts).
      const ends = new Uint32Array(2 * raw.rows.length);
      const w = this.writer.reset();
      for (let i = 0; i < raw.rows.length; i++) {
        const r = raw.rows[i]!;
        converter.writeKeyValues(r, w);
        ends[2 * i] = w.length;
        converter.writeValues(r, w);
        ends[2 * i + 1] = w.length;
      }
      return { rows: new PackedRows(w.detach(), ends), lastKey: raw.rows.length === 0 ? null : raw.last, meta: { shape } };
    });
  }

  private readerFor(shape: SnapshotTable): { reader: ChunkReader; converter: RowConverter } {
    const cached = this.readers.get(shape.tableKey);
    if (cached !== undefined && cached.reader.shape.fingerprint === shape.fingerprint) return cached;
    const made = {
      reader: new ChunkReader(shape),
      converter: new RowConverter(shape.tableKey, shape.columns, shape.keyOrder, this.options.zeroDates, (column) =>
        this.options.log.warn('zero date landed as NULL (source.zeroDates is "null")', { table: shape.tableKey, column }),
      ),
    };
    this.readers.set(shape.tableKey, made);
    return made;
  }

  async writeWatermark(id: string): Promise<void> {
    const signal = this.options.signalTable;
    if (signal === null) return this.virtualWatermark(id);
    const [db, name] = splitTable(signal);
    const ident = `${quoteIdent(db)}.${quoteIdent(name)}`;
    await this.use(async (c) => {
      await c.query(`INSERT INTO ${ident} (id) VALUES (${escapeString(id)})`);
      // A watermark serves by its INSERT in the binlog; the row itself is
      // never read, so every committed one may go (those left by an agent
      // killed mid-chunk too, and another agent's: theirs are in the binlog).
      if (id.endsWith(':high')) await c.query(`DELETE FROM ${ident} WHERE id LIKE ${escapeString(`${WATERMARK_PREFIX}:%`)}`);
    });
  }

  private virtualWatermark(id: string): void {
    const capture = this.options.capture();
    if (capture === null) throw new AgentError('source-unavailable', 'the binlog session is not running: the chunk waits for it');
    if (id.endsWith(':low')) {
      this.snapshotAt = null;
      return capture.low(id);
    }
    const at = this.snapshotAt;
    if (at === null) throw new AgentError('internal', `high watermark ${id} without a chunk read in a consistent snapshot`);
    this.snapshotAt = null;
    capture.high(id, at);
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    await c?.conn.end().catch(() => undefined);
  }
}

/** MariaDB's binlog position of the current consistent snapshot. */
async function snapshotPosition(c: mysql.Connection): Promise<bigint> {
  const [rows] = await c.query("SHOW SESSION STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position')");
  const v = new Map((rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name.toLowerCase(), r.Value]));
  const file = v.get('binlog_snapshot_file');
  const pos = Number(v.get('binlog_snapshot_position'));
  if (file === undefined || file === '' || !Number.isSafeInteger(pos))
    throw new AgentError(
      'source-misconfigured',
      'read-only snapshot watermarks need MariaDB (status binlog_snapshot_file/position, which MySQL does not have): set source.snapshot.signalTable to a table the agent may INSERT into and DELETE from',
    );
  return commitPosition(file, pos);
}

export function splitTable(table: string): [string, string] {
  const dot = table.indexOf('.');
  return [table.slice(0, dot), table.slice(dot + 1)];
}

/** Base tables matching `database.table` / `database.*` patterns (all outside the system databases when none), without the agent's own tables. */
export async function snapshotTables(conn: mysql.Connection, patterns: readonly string[], system: readonly string[], own: readonly (string | null)[]): Promise<string[]> {
  const [rows] = await conn.query(
    "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (?) ORDER BY 1",
    [system],
  );
  const all = (rows as { t: string }[]).map((r) => r.t);
  const match = (t: string): boolean =>
    patterns.length === 0 ||
    patterns.some((p) => {
      const [db, table] = splitTable(p);
      return table === '*' ? t.startsWith(`${db}.`) : t === p;
    });
  return all.filter((t) => !own.includes(t) && match(t));
}
