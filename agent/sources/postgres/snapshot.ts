/**
 * The PostgreSQL side of incremental snapshots (agent/snapshot/): table
 * description, keyset chunks read with COPY and converted exactly as the
 * stream converts pgoutput text tuples (chunk-reader.ts, in a worker thread),
 * and watermarks written into the WAL.
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
import type pg from 'pg';
import type { Logger } from '../../log.js';
import { PackedRows } from '../../snapshot/chunk-rows.js';
import { WATERMARK_PREFIX, type Chunk, type ChunkKey, type KeyedTable, type SnapshotSource, type TableInfo } from '../../snapshot/snapshot-source.js';
import { chunkKey, quoteIdent, quoteLiteral, SnapshotConnection, splitTable, tableColumns } from './chunk-reader.js';
import { ChunkWorkerPool } from './chunk-worker-pool.js';
import type { RelationMessage } from './protocol.js';

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
  /** Start the chunk reader's thread now (`source.snapshot.initial`: chunks follow the start at once). */
  readonly warm?: boolean;
}

export class PostgresSnapshotSource implements SnapshotSource<PgChunkMeta> {
  /** Descriptions and watermarks; chunks are read on the chunk reader's own connection. */
  private readonly connection: SnapshotConnection;
  private readonly chunks: ChunkWorkerPool;

  constructor(private readonly options: PostgresSnapshotOptions) {
    this.connection = new SnapshotConnection(options.client);
    this.chunks = new ChunkWorkerPool(options.client, options.log);
    if (options.warm === true) this.chunks.warm();
  }

  async describe(table: string): Promise<TableInfo> {
    this.chunks.warm(); // a table's chunks follow its description
    const { t, columns } = await this.connection.use((c) => tableColumns(c, table));
    const key = chunkKey(t, columns);
    if (key.length === 0) return { kind: 'noKey', table, reason: `${table} has no primary key and no replica identity index: add one (or REPLICA IDENTITY USING INDEX on a unique NOT NULL index), then start its snapshot` };
    return { kind: 'keyed', table, keyColumns: key.map((c) => c.attname), rowsEstimate: Math.round(t.reltuples) };
  }

  /** Read and converted in the chunk reader's thread (chunk-worker-pool.ts), handed over packed. */
  async readChunk(table: KeyedTable, after: ChunkKey | null, limit: number): Promise<Chunk<PgChunkMeta>> {
    const raw = await this.chunks.read(table, after, limit);
    return { rows: new PackedRows(raw.bytes, raw.ends), lastKey: raw.lastKey, meta: { relation: raw.relation, inProgress: raw.inProgress } };
  }

  async writeWatermark(id: string): Promise<void> {
    await this.writeWatermarks([id]);
  }

  /**
   * One simple-protocol query: the watermarks in one transaction, in order,
   * so they share a commit and enter the WAL in the order given. The ids are
   * ours (prefix, base64url, side), quoted as literals all the same.
   *
   * The commit does not wait for its WAL flush (`synchronous_commit = off`
   * for this transaction only): what a low watermark needs is to be visible
   * before the chunk's SELECT, and a synchronous commit becomes visible only
   * after its fsync, which would sit between every two chunks. A walsender
   * sends WAL only once flushed, though, so right behind it goes a
   * transaction that commits synchronously (it takes an xid, so its commit
   * waits for the flush of everything before it): the watermarks reach the
   * stream one fsync later, as before, while the next chunk is already being
   * read. Nothing waits for that second transaction but the next watermarks,
   * which queue behind it on this connection.
   */
  async writeWatermarks(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const signal = this.options.signalTable;
    const target = signal === null ? null : splitTable(signal);
    const statement = (id: string): string =>
      target === null
        ? `SELECT pg_logical_emit_message(true, ${quoteLiteral(WATERMARK_PREFIX)}, ${quoteLiteral(id)})`
        : `INSERT INTO ${quoteIdent(target[0])}.${quoteIdent(target[1])} (id) VALUES (${quoteLiteral(id)})`;
    await this.connection.use(async (c) => {
      await c.query(`BEGIN; SET LOCAL synchronous_commit = off; ${ids.map(statement).join('; ')}; COMMIT`);
      c.query('SELECT txid_current()').catch(() => undefined); // a failure shows on the next query, which reconnects
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.connection.close(), this.chunks.close()]);
  }
}
