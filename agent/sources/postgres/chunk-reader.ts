/**
 * Reads one snapshot chunk of a PostgreSQL table: keyset `COPY (SELECT ...)
 * TO STDOUT` inside a REPEATABLE READ transaction that also lists the
 * transactions in progress in its snapshot, each row converted by the
 * pgoutput converter into exactly the key and row bytes the stream produces.
 * It owns its connection. The agent runs it in a worker thread
 * (chunk-worker.ts), so conversion runs beside the capture instead of in
 * turn with it; it runs in-process where no worker can be started.
 */
import pg from 'pg';
import { RowWriter } from '../../../proto/tributary/v1/row-codec.js';
import { AgentError } from '../../errors.js';
import type { ChunkKey, KeyedTable } from '../../snapshot/snapshot-source.js';
import { REPLICATION_SESSION_SETTINGS, RowConverter } from './convert.js';
import { BinaryCopyOut, BinaryKind, binaryPlan, OWN_TEXT_CAST_SQL } from './copy-binary.js';
import { CopyOut, copyLineSpans, copyLineToTuple } from './copy-out.js';
import type { RelationMessage } from './protocol.js';
import { classify, optionsString } from './session.js';
import { tupleTexts } from './tuple-text.js';
import { PG_TYPE_CATALOG_SQL, PgTypeCatalog, type PgTypeRow } from './types.js';

export interface ColumnRow {
  attname: string;
  typid: number;
  typmod: number;
  typname: string;
  pkpos: number | null;
  identpos: number | null;
}

export interface TableRow {
  oid: number;
  relreplident: string;
  reltuples: number;
}

const COLUMNS_SQL = `SELECT a.attname, a.atttypid::int AS typid, a.atttypmod AS typmod, format_type(a.atttypid, a.atttypmod) AS typname,
  (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary) AS pkpos,
  (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisreplident) AS identpos
FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum`;

/** The table `$1.$2` (a plain or partitioned table). */
const TABLE_FROM = "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')";

const TABLE_SQL = `SELECT c.oid::int AS oid, c.relreplident, greatest(c.reltuples, 0)::float8 AS reltuples ${TABLE_FROM}`;

/** The in-progress transactions of the current snapshot, as pgoutput's 32-bit xids. */
const XIP_SQL =
  // txid_* rather than pg_current_snapshot() (PostgreSQL 13+): the same list, on every version.
  "SELECT coalesce(array_agg((x % 4294967296)::text), '{}') AS xip FROM txid_snapshot_xip(txid_current_snapshot()) x";

/** `sql` with `$1`, `$2`… replaced by these literals, in one pass (names never read as placeholders or replacement patterns). */
function inline(sql: string, ...literals: string[]): string {
  return sql.replace(/\$(\d)/g, (_, i: string) => literals[Number(i) - 1] as string);
}

/** TABLE_SQL and COLUMNS_SQL by name, for a multi-statement simple query (which takes no parameters). */
function tableSql(schema: string, name: string): string {
  return inline(TABLE_SQL, quoteLiteral(schema), quoteLiteral(name));
}
function columnsSql(schema: string, name: string): string {
  return inline(COLUMNS_SQL, `(SELECT c.oid ${inline(TABLE_FROM, quoteLiteral(schema), quoteLiteral(name))})`);
}

export const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
/** A literal under standard_conforming_strings = on (set on this connection). */
export const quoteLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * One chunk as read: every row's key bytes then row bytes, back to back in
 * `bytes`; `ends[2i]` is where row i's key ends, `ends[2i + 1]` where its row
 * image ends (a form that crosses a thread boundary without a copy).
 */
export interface RawChunk {
  readonly bytes: Uint8Array;
  readonly ends: Uint32Array;
  readonly lastKey: ChunkKey | null;
  /** The Relation message pgoutput would send for the table: the rows were converted with it. */
  readonly relation: RelationMessage;
  /** Transactions in progress in the chunk SELECT's snapshot (see PgChunkMeta). */
  readonly inProgress: number[];
  /** The COPY format the chunk was read in (copy-binary.ts). */
  readonly format: 'binary' | 'text';
}

/**
 * A connection with the session settings snapshots need (the stream's, so
 * conversion matches), opened on first use. A failure drops it, so the retry
 * starts on a clean one.
 */
export class SnapshotConnection {
  private client: pg.Client | null = null;

  constructor(private readonly config: pg.ClientConfig) {}

  private async open(): Promise<pg.Client> {
    // synchronous_commit stays as the server has it (watermark writes set it
    // per transaction: PostgresSnapshotSource.writeWatermarks).
    const settings = { ...REPLICATION_SESSION_SETTINGS, standard_conforming_strings: 'on', client_encoding: 'UTF8' };
    const client = new pg.Client({ ...this.config, options: optionsString(settings), application_name: `${this.config.application_name ?? 'tributary'}-snapshot` });
    client.on('error', () => undefined); // a dropped connection fails the running query; the next call reconnects
    try {
      await client.connect();
    } catch (cause) {
      throw classify(cause);
    }
    return client;
  }

  async use<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    this.client ??= await this.open();
    const c = this.client;
    try {
      return await fn(c);
    } catch (cause) {
      this.client = null;
      await c.end().catch(() => undefined);
      throw classify(cause);
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}

export function splitTable(table: string): [string, string] {
  const dot = table.indexOf('.');
  return [table.slice(0, dot), table.slice(dot + 1)];
}

export async function tableColumns(c: pg.Client, table: string): Promise<{ t: TableRow; columns: ColumnRow[] }> {
  const [schema, name] = splitTable(table);
  const found = await c.query<TableRow>(TABLE_SQL, [schema, name]);
  const t = found.rows[0];
  if (t === undefined) throw new AgentError('source-misconfigured', `${table}: no such table`);
  const { rows } = await c.query<ColumnRow>(COLUMNS_SQL, [t.oid]);
  return { t, columns: rows };
}

/** The chunk key: primary key columns in index order, else the replica identity index's. */
export function chunkKey(t: TableRow, columns: readonly ColumnRow[]): ColumnRow[] {
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

const utf8 = new TextDecoder();

/**
 * The newest row's key column texts (the next chunk starts after them), kept
 * as bytes while rows stream by: COPY's buffers are reused, so a view would
 * not survive, and decoding every row's key would cost a string per row.
 */
class NewestKey {
  private bytes = new Uint8Array(256);
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private decoded: Array<string | null> | null = null;
  private seen = false;

  constructor(private readonly columns: readonly number[]) {
    this.starts = new Int32Array(columns.length);
    this.ends = new Int32Array(columns.length);
  }

  /** A row given as column spans (copyLineSpans). */
  fromSpans(data: Uint8Array, spans: Int32Array): void {
    let o = 0;
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i] as number;
      const start = spans[2 * c] as number;
      this.starts[i] = start < 0 ? -1 : o;
      if (start < 0) continue;
      const end = spans[2 * c + 1] as number;
      if (o + end - start > this.bytes.length) {
        const grown = new Uint8Array(2 * (o + end - start));
        grown.set(this.bytes.subarray(0, o));
        this.bytes = grown;
      }
      for (let p = start; p < end; p++) this.bytes[o++] = data[p] as number;
      this.ends[i] = o;
    }
    this.decoded = null;
    this.seen = true;
  }

  /** A row already decoded (the unescaping path). */
  fromTexts(texts: Array<string | null>): void {
    this.decoded = texts;
    this.seen = true;
  }

  texts(): ChunkKey | null {
    if (!this.seen) return null;
    const texts = this.decoded ?? this.columns.map((_, i) => (this.starts[i] === -1 ? null : utf8.decode(this.bytes.subarray(this.starts[i], this.ends[i]))));
    return texts as ChunkKey;
  }
}

export class ChunkReader {
  private readonly connection: SnapshotConnection;
  private catalog: PgTypeCatalog | null = null;
  private ownTextCast: ReadonlySet<number> = new Set();
  private scratch: Uint8Array = new Uint8Array(1 << 16);
  private readonly writer = new RowWriter(1 << 20);

  /** `binary`: read in the binary format where the table's types allow (copy-binary.ts); false reads every table as text. */
  constructor(
    config: pg.ClientConfig,
    private readonly binary = true,
  ) {
    this.connection = new SnapshotConnection(config);
  }

  read(table: KeyedTable, after: ChunkKey | null, limit: number): Promise<RawChunk> {
    return this.connection.use(async (c) => {
      const [schema, name] = splitTable(table.table);
      // One round trip: the transaction, its snapshot's in-progress list (the
      // first statement takes the snapshot COPY reads), and the table's shape.
      const results = (await c.query(
        `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${XIP_SQL}; ${tableSql(schema, name)}; ${columnsSql(schema, name)}`,
      )) as unknown as [pg.QueryResult, pg.QueryResult<{ xip: string[] }>, pg.QueryResult<TableRow>, pg.QueryResult<ColumnRow>];
      const t = results[2].rows[0];
      if (t === undefined) throw new AgentError('source-misconfigured', `${table.table}: no such table`);
      const columns = results[3].rows;
      const inProgress = (results[1].rows[0]?.xip ?? []).map(Number);
      const key = chunkKey(t, columns);
      if (key.map((k) => k.attname).join() !== table.keyColumns.join()) throw new AgentError('source-unavailable', `${table.table}: its key changed during the snapshot`);
      const relation = relationOf(table.table, t, columns);
      const converter = await this.converter(c, relation);
      const keyIdx = key.map((k) => columns.indexOf(k));
      // Qualified by the table's alias: an output column of the same name (`"id"::text`) must not be what orders or filters.
      const keyList = key.map((k) => `t.${quoteIdent(k.attname)}`).join(', ');
      const where = after === null ? '' : ` WHERE (${keyList}) > (${after.map((v, i) => `${quoteLiteral(v)}::${key[i]?.typname ?? 'text'}`).join(', ')})`;
      const from = `FROM ${quoteIdent(schema)}.${quoteIdent(name)} AS t${where} ORDER BY ${keyList} LIMIT ${limit}`;
      // Every key and row image of the chunk goes into one buffer: one copy per chunk, none per row.
      // LIMIT bounds the rows: two ends each.
      const ends = new Uint32Array(2 * limit);
      let n = 0;
      const w = this.writer.reset();
      const plan = this.binaryPlan(columns);
      let copy: CopyOut | BinaryCopyOut;
      let lastKey: NewestKey;
      if (plan !== null) {
        // Binary, with the key columns once more as text at the end: the next chunk starts after them.
        const select = columns.map((k, i) => (plan[i] === BinaryKind.Text ? `t.${quoteIdent(k.attname)}::text` : `t.${quoteIdent(k.attname)}`));
        for (const k of key) select.push(`t.${quoteIdent(k.attname)}::text`);
        lastKey = new NewestKey(key.map((_, i) => columns.length + i));
        copy = new BinaryCopyOut(`COPY (SELECT ${select.join(', ')} ${from}) TO STDOUT (FORMAT binary)`, columns.length + key.length, (data, spans) => {
          converter.writeSpans(data, spans, w, true, plan);
          ends[n++] = w.length;
          converter.writeSpans(data, spans, w, false, plan);
          ends[n++] = w.length;
          lastKey.fromSpans(data, spans);
        });
      } else {
        const spans = new Int32Array(2 * columns.length);
        lastKey = new NewestKey(keyIdx);
        copy = new CopyOut(`COPY (SELECT ${columns.map((k) => `t.${quoteIdent(k.attname)}`).join(', ')} ${from}) TO STDOUT`, (data, start, end) => {
          if (copyLineSpans(data, start, end, columns.length, spans)) {
            // No escapes: values are converted straight from the line.
            converter.writeSpans(data, spans, w, true);
            ends[n++] = w.length;
            converter.writeSpans(data, spans, w, false);
            ends[n++] = w.length;
            lastKey.fromSpans(data, spans);
          } else {
            const { tuple, buf } = copyLineToTuple(data.subarray(start, end), columns.length, this.scratch);
            this.scratch = buf;
            converter.writeKey(tuple, w);
            ends[n++] = w.length;
            converter.writeRow(tuple, w);
            ends[n++] = w.length;
            lastKey.fromTexts(tupleTexts(tuple, keyIdx));
          }
        });
      }
      c.query(copy as unknown as pg.QueryConfig);
      await copy.done;
      // Read only: nothing to wait for. The next statement queues behind it.
      c.query('COMMIT').catch(() => undefined);
      return { bytes: w.detach(), ends: ends.slice(0, n), lastKey: lastKey.texts(), relation, inProgress, format: plan === null ? 'text' : 'binary' };
    });
  }

  private async converter(c: pg.Client, relation: RelationMessage): Promise<RowConverter> {
    for (let attempt = 0; ; attempt++) {
      if (this.catalog === null) {
        this.catalog = new PgTypeCatalog((await c.query<PgTypeRow>(PG_TYPE_CATALOG_SQL)).rows);
        this.ownTextCast = new Set((await c.query<{ oid: number }>(OWN_TEXT_CAST_SQL)).rows.map((r) => Number(r.oid)));
      }
      try {
        return RowConverter.forRelation(relation, this.catalog);
      } catch (e) {
        // A type created after the catalog was loaded: load it again, once.
        if (attempt > 0 || !(e instanceof AgentError)) throw e;
        this.catalog = null;
      }
    }
  }

  /** How each column is read in binary (copy-binary.ts), or null to read the table as text. */
  private binaryPlan(columns: readonly ColumnRow[]): Int32Array | null {
    const catalog = this.catalog;
    if (catalog === null || !this.binary) return null;
    const bases: number[] = [];
    for (const c of columns) {
      const base = catalog.baseTypeOid(c.typid);
      if (base === undefined) return null;
      bases.push(base);
    }
    return binaryPlan(bases, this.ownTextCast);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
