/**
 * The PostgreSQL side of incremental snapshots (agent/snapshot/): table
 * description, keyset chunks read with COPY and converted exactly as the
 * stream converts pgoutput text tuples, and watermarks written into the WAL.
 *
 * Watermarks: `pg_logical_emit_message(true, prefix, id)` — a transactional
 * logical decoding message that pgoutput delivers (option `messages 'true'`)
 * inside its own transaction, at that transaction's commit position. Needs
 * EXECUTE on the function (granted to PUBLIC by default) and a primary
 * server. Where it is revoked, `source.snapshot.signalTable` names a table
 * with a text column `id`: each watermark is an INSERT there (needs INSERT on
 * it, and the table in the publication); the capture recognises those rows
 * and never forwards them.
 *
 * Chunk key: the primary key (in index order), else the replica identity
 * index; a table with neither is not snapshotted (README, "Tables without a
 * primary key").
 */
import pg from 'pg';
import { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { AgentError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { WATERMARK_PREFIX, type Chunk, type ChunkKey, type ChunkRow, type KeyedTable, type SnapshotSource, type TableInfo } from '../../snapshot/snapshot-source.js';
import { REPLICATION_SESSION_SETTINGS, RowConverter } from './convert.js';
import { CopyOut, copyLineToTuple } from './copy-out.js';
import type { RelationMessage, TupleData } from './protocol.js';
import { classify, optionsString } from './stream.js';
import { tupleTexts } from './tuple-text.js';
import { PG_TYPE_CATALOG_SQL, PgTypeCatalog, type PgTypeRow } from './types.js';

interface ColumnRow {
  attname: string;
  typid: number;
  typmod: number;
  typname: string;
  pkpos: number | null;
  identpos: number | null;
}

interface TableRow {
  oid: number;
  relreplident: string;
  reltuples: number;
}

const COLUMNS_SQL = `SELECT a.attname, a.atttypid::int AS typid, a.atttypmod AS typmod, format_type(a.atttypid, a.atttypmod) AS typname,
  (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary) AS pkpos,
  (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisreplident) AS identpos
FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum`;

const TABLE_SQL = `SELECT c.oid::int AS oid, c.relreplident, greatest(c.reltuples, 0)::float8 AS reltuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`;

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
/** A literal under standard_conforming_strings = on (set on this connection). */
const quoteLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** What a PostgreSQL chunk hands back at its high watermark. */
export interface PgChunkMeta {
  /** The Relation message pgoutput would send for the table: the rows were converted with it. */
  readonly relation: RelationMessage;
  /**
   * Transactions in progress in the chunk SELECT's snapshot (32-bit xids, as
   * pgoutput's Begin carries them). One the log shows committed before the
   * low watermark was still invisible to the SELECT (PostgreSQL writes the
   * commit record before the transaction leaves the proc array): its changes
   * are neither in the chunk nor in the window, so the chunk is read again.
   */
  readonly inProgress: readonly number[];
}

export interface PostgresSnapshotOptions {
  readonly client: pg.ClientConfig;
  /** `schema.table` of the signal table, or null to use logical decoding messages. */
  readonly signalTable: string | null;
  readonly log: Logger;
}

export class PostgresSnapshotSource implements SnapshotSource<PgChunkMeta> {
  private client: pg.Client | null = null;
  private catalog: PgTypeCatalog | null = null;
  private scratch: Uint8Array = new Uint8Array(1 << 16);
  private readonly writer = new RowWriter(4096);

  constructor(private readonly options: PostgresSnapshotOptions) {}

  private async connection(): Promise<pg.Client> {
    if (this.client !== null) return this.client;
    // synchronous_commit stays as the server has it: a walsender sends WAL
    // only once flushed, so an asynchronous commit would hold each watermark
    // back by up to three wal_writer_delay periods.
    const settings = { ...REPLICATION_SESSION_SETTINGS, standard_conforming_strings: 'on', client_encoding: 'UTF8' };
    const client = new pg.Client({ ...this.options.client, options: optionsString(settings), application_name: `${this.options.client.application_name ?? 'tributary'}-snapshot` });
    client.on('error', () => undefined); // a dropped connection fails the running query; the next call reconnects
    try {
      await client.connect();
    } catch (cause) {
      throw classify(cause);
    }
    this.client = client;
    return client;
  }

  /** Runs `fn` on the connection; a failure drops the connection so the retry starts clean. */
  private async use<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = await this.connection();
    try {
      return await fn(c);
    } catch (cause) {
      this.client = null;
      await c.end().catch(() => undefined);
      throw classify(cause);
    }
  }

  async describe(table: string): Promise<TableInfo> {
    const { t, columns } = await this.use((c) => this.columns(c, table));
    const key = chunkKey(t, columns);
    if (key.length === 0) return { kind: 'noKey', table, reason: `${table} has no primary key and no replica identity index: add one (or REPLICA IDENTITY USING INDEX on a unique NOT NULL index), then start its snapshot` };
    return { kind: 'keyed', table, keyColumns: key.map((c) => c.attname), rowsEstimate: Math.round(t.reltuples) };
  }

  private async columns(c: pg.Client, table: string): Promise<{ t: TableRow; columns: ColumnRow[] }> {
    const [schema, name] = splitTable(table);
    const found = await c.query<TableRow>(TABLE_SQL, [schema, name]);
    const t = found.rows[0];
    if (t === undefined) throw new AgentError('source-misconfigured', `${table}: no such table`);
    const { rows } = await c.query<ColumnRow>(COLUMNS_SQL, [t.oid]);
    return { t, columns: rows };
  }

  async readChunk(table: KeyedTable, after: ChunkKey | null, limit: number): Promise<Chunk<PgChunkMeta>> {
    return this.use(async (c) => {
      const { t, columns } = await this.columns(c, table.table);
      const key = chunkKey(t, columns);
      if (key.map((k) => k.attname).join() !== table.keyColumns.join()) throw new AgentError('source-unavailable', `${table.table}: its key changed during the snapshot`);
      const relation = relationOf(table.table, t, columns);
      const converter = await this.converter(c, relation);
      const keyIdx = key.map((k) => columns.indexOf(k));
      const keyList = key.map((k) => quoteIdent(k.attname)).join(', ');
      const where = after === null ? '' : ` WHERE (${keyList}) > (${after.map((v, i) => `${quoteLiteral(v)}::${key[i]?.typname ?? 'text'}`).join(', ')})`;
      const [schema, name] = splitTable(table.table);
      const sql = `COPY (SELECT ${columns.map((k) => quoteIdent(k.attname)).join(', ')} FROM ${quoteIdent(schema)}.${quoteIdent(name)}${where} ORDER BY ${keyList} LIMIT ${limit}) TO STDOUT`;
      // Every key and row image of the chunk goes into one buffer, cut into
      // views at the end: two allocations per chunk instead of two per row.
      const ends: number[] = [];
      let last: TupleData | null = null;
      const w = this.writer.reset();
      const copy = new CopyOut(sql, (line) => {
        const { tuple, buf } = copyLineToTuple(line, columns.length, this.scratch);
        this.scratch = buf;
        converter.writeKey(tuple, w);
        ends.push(w.length);
        converter.writeRow(tuple, w);
        ends.push(w.length);
        last = tuple;
      });
      // One snapshot for the xid list and the COPY: the transaction's first statement takes it.
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const xip = await c.query<{ xip: string[] }>(
        // txid_* rather than pg_current_snapshot() (PostgreSQL 13+): the same list, on every version.
        "SELECT coalesce(array_agg((x % 4294967296)::text), '{}') AS xip FROM txid_snapshot_xip(txid_current_snapshot()) x",
      );
      c.query(copy as unknown as pg.QueryConfig);
      await copy.done;
      await c.query('COMMIT');
      const all = w.finish();
      const rows: ChunkRow[] = new Array<ChunkRow>(ends.length / 2);
      let at = 0;
      for (let i = 0; i < rows.length; i++) {
        const k = ends[2 * i] as number;
        const a = ends[2 * i + 1] as number;
        rows[i] = { key: all.subarray(at, k), after: all.subarray(k, a) };
        at = a;
      }
      const inProgress = (xip.rows[0]?.xip ?? []).map(Number);
      return { rows, lastKey: last === null ? null : tupleTexts(last, keyIdx), meta: { relation, inProgress } };
    });
  }

  private async converter(c: pg.Client, relation: RelationMessage): Promise<RowConverter> {
    for (let attempt = 0; ; attempt++) {
      if (this.catalog === null) this.catalog = new PgTypeCatalog((await c.query<PgTypeRow>(PG_TYPE_CATALOG_SQL)).rows);
      try {
        return RowConverter.forRelation(relation, this.catalog);
      } catch (e) {
        // A type created after the catalog was loaded: load it again, once.
        if (attempt > 0 || !(e instanceof AgentError)) throw e;
        this.catalog = null;
      }
    }
  }

  async writeWatermark(id: string): Promise<void> {
    await this.writeWatermarks([id]);
  }

  /**
   * One simple-protocol query of several statements: PostgreSQL runs them as
   * one implicit transaction, in order (protocol docs, "Multiple Statements
   * in a Simple Query"), so the watermarks share a commit and enter the WAL
   * in the order given. The ids are ours (prefix, base64url, side), quoted
   * as literals all the same.
   */
  async writeWatermarks(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const signal = this.options.signalTable;
    const target = signal === null ? null : splitTable(signal);
    const statement = (id: string): string =>
      target === null
        ? `SELECT pg_logical_emit_message(true, ${quoteLiteral(WATERMARK_PREFIX)}, ${quoteLiteral(id)})`
        : `INSERT INTO ${quoteIdent(target[0])}.${quoteIdent(target[1])} (id) VALUES (${quoteLiteral(id)})`;
    await this.use(async (c) => {
      await c.query(ids.map(statement).join('; '));
    });
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}

function splitTable(table: string): [string, string] {
  const dot = table.indexOf('.');
  return [table.slice(0, dot), table.slice(dot + 1)];
}

/** The chunk key: primary key columns in index order, else the replica identity index's. */
function chunkKey(t: TableRow, columns: readonly ColumnRow[]): ColumnRow[] {
  const by = (pos: (c: ColumnRow) => number | null): ColumnRow[] =>
    columns.filter((c) => pos(c) !== null).sort((a, b) => (pos(a) as number) - (pos(b) as number));
  const pk = by((c) => c.pkpos);
  return pk.length > 0 ? pk : t.relreplident === 'i' ? by((c) => c.identpos) : [];
}

/** The Relation message pgoutput would send for this table: key flags follow the replica identity. */
function relationOf(table: string, t: TableRow, columns: readonly ColumnRow[]): RelationMessage {
  const [namespace, name] = splitTable(table);
  const key = (c: ColumnRow): boolean =>
    t.relreplident === 'f' ? true : t.relreplident === 'i' ? c.identpos !== null : t.relreplident === 'd' ? c.pkpos !== null : false;
  return {
    tag: 'relation',
    relationId: t.oid,
    namespace,
    name,
    replicaIdentity: t.relreplident,
    columns: columns.map((c) => ({ key: key(c), name: c.attname, typeOid: c.typid, typeMod: c.typmod })),
  };
}
