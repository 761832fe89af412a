/**
 * PostgreSQL sink: lands each source table as a table in one destination
 * schema (naming rules in ddl.ts), applying changes idempotently by primary key
 * and recording its log offset in the same transaction, so a batch and its
 * offset become durable together (exactly-once at the destination).
 *
 * Source tables need a primary key (or REPLICA IDENTITY USING INDEX): rows are
 * upserted and deleted by key, and a table without one is refused with a
 * 'schema' error.
 */
import { DatabaseError, Pool, type ClientConfig, type PoolClient } from 'pg';
import type { TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { HubError, isTransientSqlState } from '../../errors.js';
import type { DeletePolicy } from '../merge/metadata.js';
import { DEFAULT_FLUSH } from '../merge/options.js';
import { splitRuns } from '../merge/runs.js';
import type { FlushPolicy, Sink, SinkBatch, SinkChange } from '../sink.js';
import type { Logger } from '../../log.js';
import { applyRun, applyTruncate } from './apply.js';
import { columnsLedgerSql } from './evolve.js';
import {
  OFFSETS_TABLE,
  createSchemaSql,
  destinationTableName,
  ensureTable,
  offsetsTableSql,
  planTable,
  quoteIdent,
  tableExists,
  type TablePlan,
} from './ddl.js';

/** Give exactly one of `connectionString` (URL or pg ClientConfig) and `connection` (pg ClientConfig). */
export interface PostgresSinkConfig {
  readonly name: string;
  readonly connectionString?: string | ClientConfig;
  readonly connection?: ClientConfig;
  /** Destination schema; created by open() when missing. */
  readonly schema: string;
  /** Rows per multi-row statement (default 1000; the bind-parameter limit may lower it for wide tables). */
  readonly maxRowsPerStatement?: number;
  readonly deletePolicy?: DeletePolicy;
  readonly flush?: FlushPolicy;
  /** Drop destination columns the source dropped (default: keep them, NULL from then on). */
  readonly dropColumns?: boolean;
  readonly logger?: Logger;
}

const DEFAULT_MAX_ROWS = 1000;

export class PostgresSink implements Sink {
  readonly name: string;
  readonly flush: FlushPolicy;
  private readonly policy: DeletePolicy;
  private readonly schema: string;
  private readonly offsetsIdent: string;
  private readonly maxRows: number;
  private readonly pool: Pool;
  /** Table versions whose DDL has committed, by versionKey. */
  private readonly ready = new Map<string, TablePlan>();
  /** Destination table name -> source identity that claimed it in this process. */
  private readonly owners = new Map<string, string>();
  private closed = false;

  constructor(private readonly config: PostgresSinkConfig) {
    this.name = config.name;
    this.flush = config.flush ?? DEFAULT_FLUSH;
    this.policy = config.deletePolicy ?? 'hard';
    this.schema = config.schema;
    try {
      this.offsetsIdent = `${quoteIdent(config.schema, 'destination schema')}.${quoteIdent(OFFSETS_TABLE)}`;
    } catch (cause) {
      throw new HubError('config', `sink ${config.name}: ${(cause as Error).message}`, { cause });
    }
    const maxRows = config.maxRowsPerStatement ?? DEFAULT_MAX_ROWS;
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new HubError('config', `sink ${config.name}: maxRowsPerStatement must be a positive integer`);
    this.maxRows = maxRows;
    const target = config.connectionString ?? config.connection;
    if (target === undefined || (config.connectionString !== undefined && config.connection !== undefined)) {
      throw new HubError('config', `sink ${config.name}: give exactly one of connectionString and connection`);
    }
    const base: ClientConfig = typeof target === 'string' ? { connectionString: target } : target;
    this.pool = new Pool({ connectionTimeoutMillis: 10_000, ...base, max: 2 });
    // An idle connection dropped by the server emits 'error' on the pool; without a listener that
    // would crash the hub. The next checkout fails or reconnects and write() reports it.
    this.pool.on('error', () => {});
  }

  /** Creates the destination schema and offsets table if missing; resolves with the durably applied log offset, or null before the first write. */
  async open(signal: AbortSignal): Promise<bigint | null> {
    signal.throwIfAborted();
    const client = await this.connect(signal);
    try {
      const ns = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.schema]);
      // Checked first so a role without CREATE works against a schema prepared for it.
      if (ns.rowCount === 0) await client.query(createSchemaSql(this.schema));
      if (!(await tableExists(client, this.offsetsIdent))) await client.query(offsetsTableSql(this.schema));
      await client.query(columnsLedgerSql(this.schema));
      const offset = await this.readOffset(client, false);
      client.release();
      return offset;
    } catch (err) {
      client.release(true);
      throw this.classify(err, OFFSETS_TABLE, signal);
    }
  }

  /**
   * Applies the batch and stores `batch.lastOffset` in ONE transaction; resolves
   * after COMMIT. A batch whose lastOffset the destination already holds is
   * skipped (a retry after a lost COMMIT reply must not re-run a TRUNCATE), and
   * the offset never moves backwards. Changes apply in order, run by run.
   */
  async write(batch: SinkBatch, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const client = await this.connect(signal);
    const pending = new Map<string, TablePlan>();
    let table: string | undefined;
    try {
      await client.query('BEGIN');
      const stored = await this.readOffset(client, true);
      if (stored === null || stored < batch.lastOffset) {
        for (const run of splitRuns(batch.changes)) {
          signal.throwIfAborted();
          const first = run[0] as SinkChange;
          table = `${this.schema}.${destinationTableName(first.schema.schema, first.schema.table)}`;
          await this.applyRun(client, run, pending);
        }
        table = OFFSETS_TABLE;
        await client.query(
          `INSERT INTO ${this.offsetsIdent} (sink, log_offset, updated_at) VALUES ($1, $2::numeric, now()) ` +
            `ON CONFLICT (sink) DO UPDATE SET log_offset = EXCLUDED.log_offset, updated_at = EXCLUDED.updated_at`,
          [this.name, batch.lastOffset.toString()],
        );
      }
      signal.throwIfAborted();
      await client.query('COMMIT');
    } catch (err) {
      await this.rollback(client, err instanceof DatabaseError || err instanceof HubError || err instanceof RangeError || signal.aborted);
      // The destination may have changed under us (a dropped table): re-check DDL on the next attempt.
      this.ready.clear();
      throw this.classify(err, table, signal);
    }
    client.release();
    for (const [key, plan] of pending) this.ready.set(key, plan);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async applyRun(client: PoolClient, run: readonly SinkChange[], pending: Map<string, TablePlan>): Promise<void> {
    const first = run[0] as SinkChange;
    if (first.op !== 'truncate') {
      await applyRun(client, await this.prepare(client, first.schema, pending), run, this.maxRows, this.policy);
      return;
    }
    // A truncate may carry only the table's name; then it truncates a table that exists and creates nothing.
    if (first.schema.columns.length > 0) {
      await applyTruncate(client, (await this.prepare(client, first.schema, pending)).ident, this.policy, run[run.length - 1]);
      return;
    }
    const name = destinationTableName(first.schema.schema, first.schema.table);
    const ident = `${quoteIdent(this.schema, 'destination schema')}.${quoteIdent(name, 'destination table')}`;
    if (await tableExists(client, ident)) await applyTruncate(client, ident, this.policy, run[run.length - 1]);
  }

  /** The plan for a table version, creating or widening the destination table the first time the version is seen. */
  private async prepare(client: PoolClient, schema: TableSchema, pending: Map<string, TablePlan>): Promise<TablePlan> {
    const key = JSON.stringify([schema.schema, schema.table, schema.version]);
    const known = pending.get(key) ?? this.ready.get(key);
    if (known) return known;
    let plan: TablePlan;
    try {
      plan = planTable(this.schema, schema, this.policy);
    } catch (err) {
      throw err instanceof HubError ? new HubError(err.kind, `sink ${this.name}: ${err.message}`, { cause: err }) : err;
    }
    const owner = this.owners.get(plan.name);
    if (owner !== undefined && owner !== plan.sourceId) {
      throw new HubError('schema', `sink ${this.name}: source tables ${owner} and ${plan.sourceId} both map to destination table ${plan.name}`);
    }
    this.owners.set(plan.name, plan.sourceId);
    try {
      const evolved = await ensureTable(client, this.schema, plan, schema, this.config.dropColumns === true);
      if (evolved !== null) {
        plan = evolved.plan;
        // Other versions' plans were made against the table as it was: plan them again when next used.
        if (evolved.evolution.changes.length > 0) forgetTable(schema, this.ready, pending);
        for (const c of evolved.evolution.changes) this.config.logger?.info('destination table evolved', { sink: this.name, table: plan.name, version: schema.version, change: c });
        for (const i of evolved.evolution.incompatible)
          this.config.logger?.warn('incompatible type change: values land in a new column', { sink: this.name, table: plan.name, column: i.column, from: i.from, to: i.to, target: i.target });
      }
    } catch (err) {
      if (err instanceof HubError) throw new HubError(err.kind, `sink ${this.name}: ${err.message}`, { cause: err });
      if (err instanceof DatabaseError && !isTransientSqlState(err.code)) {
        throw new HubError('schema', `sink ${this.name}: DDL for destination table ${plan.name} (source ${plan.source}) failed, SQLSTATE ${err.code}: ${err.message}`, {
          cause: err,
        });
      }
      throw err;
    }
    pending.set(key, plan);
    return plan;
  }

  private async readOffset(client: PoolClient, lock: boolean): Promise<bigint | null> {
    const r = await client.query<{ offset: string }>(
      `SELECT log_offset::text AS offset FROM ${this.offsetsIdent} WHERE sink = $1${lock ? ' FOR UPDATE' : ''}`,
      [this.name],
    );
    const row = r.rows[0];
    return row === undefined ? null : BigInt(row.offset);
  }

  private async connect(signal: AbortSignal): Promise<PoolClient> {
    if (this.closed) throw new HubError('internal', `sink ${this.name} is closed`);
    try {
      return await this.pool.connect();
    } catch (err) {
      throw this.classify(err, undefined, signal);
    }
  }

  /**
   * ROLLBACK when the connection should still answer (the server or our own code refused the batch);
   * after a network failure the connection is discarded instead, and the server aborts its transaction.
   */
  private async rollback(client: PoolClient, connectionAlive: boolean): Promise<void> {
    const rolledBack = connectionAlive && (await client.query('ROLLBACK').then(() => true, () => false));
    client.release(rolledBack ? undefined : true);
  }

  /** Maps a failure to a HubError by SQLSTATE, never by message text; the caller's own abort passes through. */
  private classify(err: unknown, table: string | undefined, signal: AbortSignal): unknown {
    if (signal.aborted && err === signal.reason) return err;
    if (err instanceof HubError) return err;
    const where = `sink ${this.name}${table === undefined ? '' : `, destination table ${table}`}`;
    if (err instanceof DatabaseError) {
      // Class 42 (undefined table/column, datatype mismatch) means the destination's shape no longer fits.
      const kind = isTransientSqlState(err.code) ? 'sink-unavailable' : err.code?.startsWith('42') && err.code !== '42501' ? 'schema' : 'sink-rejected';
      return new HubError(kind, `${where}: SQLSTATE ${err.code}: ${err.message}`, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    // Bad values (values.ts, apply.ts) are data problems: retrying cannot fix them.
    if (err instanceof RangeError || err instanceof TypeError) return new HubError('sink-rejected', `${where}: ${message}`, { cause: err });
    // No SQLSTATE: refused connection, reset, timeout -- the destination is unreachable.
    return new HubError('sink-unavailable', `${where}: destination unreachable: ${message}`, { cause: err });
  }
}

/** Drops the cached plans (by versionKey) of every version of `schema`'s table. */
function forgetTable(schema: TableSchema, ...caches: Map<string, TablePlan>[]): void {
  const prefix = JSON.stringify([schema.schema, schema.table]).slice(0, -1) + ',';
  for (const cache of caches) for (const key of [...cache.keys()]) if (key.startsWith(prefix)) cache.delete(key);
}
