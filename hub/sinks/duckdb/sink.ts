/**
 * DuckDB sink, the embedded warehouse: one database file, each source table
 * as a table in one schema. A batch is applied as: every run (changes of one
 * table version) collapsed to the latest change per key and appended to a
 * temporary staging table; then ONE transaction runs a position-guarded
 * MERGE per run (merge/merge-sql.ts) and records the log offset, so a batch
 * and its offset become durable together and any replay changes nothing.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { HubError } from '../../errors.js';
import { collapse } from '../merge/collapse.js';
import { META, OFFSETS_TABLE, type DeletePolicy } from '../merge/metadata.js';
import { mergeSql, STAGE_UNCHANGED, truncateSql, type MergeShape } from '../merge/merge-sql.js';
import { destinationTableName } from '../merge/naming.js';
import { DEFAULT_FLUSH } from '../merge/options.js';
import { splitRuns } from '../merge/runs.js';
import type { FlushPolicy, Sink, SinkBatch, SinkChange } from '../sink.js';
import type { Logger } from '../../log.js';
import { offsetsTableSql, planTable, quoteIdent, quoteLiteral, stageTableSql, type DuckTablePlan } from './ddl.js';
import type { TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import type { Fill } from '../merge/fill.js';
import { columnsLedgerSql, ensureDuckTable, runFill, type Evolved } from './evolve.js';
import { stageRun } from './stage.js';

export interface DuckDbSinkOptions {
  readonly name: string;
  readonly path: string;
  readonly schema: string;
  readonly deletePolicy?: DeletePolicy;
  readonly flush?: FlushPolicy;
  /** Drop destination columns the source dropped (default: keep them, NULL from then on). */
  readonly dropColumns?: boolean;
  readonly logger?: Logger;
}

interface Step {
  readonly plan: DuckTablePlan | null;
  /** Destination table name, unquoted. */
  readonly table: string;
  readonly ident: string;
  readonly stage: string | null;
  readonly partial: boolean;
  readonly first: SinkChange;
}

const quotedMeta = { lsn: META.lsn, index: META.index, op: META.op, commitTime: META.commitTime, syncedAt: META.syncedAt, deleted: META.deleted };

export class DuckDbSink implements Sink {
  readonly name: string;
  readonly flush: FlushPolicy;
  private readonly schemaIdent: string;
  private readonly offsets: string;
  private readonly policy: DeletePolicy;
  private conn: DuckDBConnection | null = null;
  /** Destination table name, folded to lower case (DuckDB's matching) -> source identity, for clash checks. */
  private readonly owners = new Map<string, string>();
  private readonly ready = new Map<string, Evolved>();

  constructor(private readonly options: DuckDbSinkOptions) {
    this.name = options.name;
    this.flush = options.flush ?? DEFAULT_FLUSH;
    this.policy = options.deletePolicy ?? 'hard';
    try {
      this.schemaIdent = quoteIdent(options.schema, 'destination schema');
    } catch (cause) {
      throw new HubError('config', `sink ${options.name}: ${(cause as Error).message}`, { cause });
    }
    this.offsets = `${this.schemaIdent}.${quoteIdent(OFFSETS_TABLE)}`;
  }

  /** Opens (or creates) the file, the schema and the offsets table; resolves with the durably applied log offset, or null. */
  async open(signal: AbortSignal): Promise<bigint | null> {
    signal.throwIfAborted();
    const conn = await this.connection();
    try {
      await conn.run(`CREATE SCHEMA IF NOT EXISTS ${this.schemaIdent}`);
      await conn.run(offsetsTableSql(this.options.schema));
      await conn.run(columnsLedgerSql(this.options.schema));
      return await this.readOffset(conn);
    } catch (err) {
      throw this.classify(err, OFFSETS_TABLE);
    }
  }

  /**
   * Stages, then applies every run and stores `batch.lastOffset` in one
   * transaction; resolves after COMMIT (DuckDB syncs its WAL on commit). A
   * batch whose offset the file already holds is skipped.
   */
  async write(batch: SinkBatch, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const conn = await this.connection();
    const stages: string[] = [];
    let where: string | undefined;
    try {
      const steps: Step[] = [];
      for (const run of splitRuns(batch.changes)) {
        const first = run[0] as SinkChange;
        where = `${first.schema.schema}.${first.schema.table}`;
        steps.push(await this.stage(conn, run, stages));
      }
      signal.throwIfAborted();
      await conn.run('BEGIN TRANSACTION');
      try {
        const stored = await this.readOffset(conn);
        if (stored === null || stored < batch.lastOffset) {
          const fills = await this.evolveAll(conn, steps);
          for (const step of steps) {
            where = `${step.first.schema.schema}.${step.first.schema.table}`;
            // Defaults for rows from before a version: after this table's earlier versions in the batch are applied.
            const key = `${step.ident}|${step.first.schema.version}`;
            for (const f of fills.get(key) ?? []) await runFill(conn, step.ident, f, step.first.schema.sourceDialect);
            fills.delete(key);
            await this.apply(conn, step);
          }
          where = OFFSETS_TABLE;
          await conn.run(
            `INSERT INTO ${this.offsets} (sink, log_offset, updated_at) VALUES (${quoteLiteral(this.name)}, ${batch.lastOffset}, now()) ` +
              `ON CONFLICT (sink) DO UPDATE SET log_offset = EXCLUDED.log_offset, updated_at = EXCLUDED.updated_at`,
          );
        }
        signal.throwIfAborted();
        await conn.run('COMMIT');
      } catch (err) {
        await conn.run('ROLLBACK').catch(() => undefined);
        this.ready.clear();
        throw err;
      }
    } catch (err) {
      if (signal.aborted && err === signal.reason) throw err;
      throw this.classify(err, where);
    } finally {
      for (const s of stages) await conn.run(`DROP TABLE IF EXISTS ${s}`).catch(() => undefined);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // The instance stays in DuckDB's per-process cache (other readers in this process share it); the connection goes.
    this.conn?.closeSync();
    this.conn = null;
  }

  private async connection(): Promise<DuckDBConnection> {
    if (this.conn !== null) return this.conn;
    try {
      const instance = await DuckDBInstance.fromCache(this.options.path);
      this.conn = await instance.connect();
      return this.conn;
    } catch (err) {
      throw new HubError('sink-unavailable', `sink ${this.name}: cannot open DuckDB file ${this.options.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async stage(conn: DuckDBConnection, run: readonly SinkChange[], stages: string[]): Promise<Step> {
    const first = run[0] as SinkChange;
    if (first.op === 'truncate') {
      const name = destinationTableName(first.schema.schema, first.schema.table);
      const plan = first.schema.columns.length > 0 ? this.plan(first) : null;
      return { plan, table: name, ident: plan?.ident ?? `${this.schemaIdent}.${quoteIdent(name, 'destination table')}`, stage: null, partial: false, first: run[run.length - 1] as SinkChange };
    }
    const plan = this.plan(first);
    const stage = quoteIdent(`_tributary_stage_${stages.length}`);
    stages.push(stage);
    await conn.run(stageTableSql(stage, plan));
    const { partial } = await stageRun(conn, `_tributary_stage_${stages.length - 1}`, plan, collapse(plan, run).values());
    return { plan, table: plan.name, ident: plan.ident, stage, partial, first };
  }

  private plan(change: SinkChange): DuckTablePlan {
    let plan: DuckTablePlan;
    try {
      plan = planTable(this.options.schema, change.schema);
    } catch (err) {
      throw err instanceof HubError ? new HubError(err.kind, `sink ${this.name}: ${err.message}`, { cause: err }) : err;
    }
    const folded = plan.name.toLowerCase();
    const owner = this.owners.get(folded);
    if (owner !== undefined && owner !== plan.sourceId) {
      throw new HubError('schema', `sink ${this.name}: source tables ${owner} and ${plan.sourceId} both map to destination table ${plan.name} (DuckDB names ignore case)`);
    }
    this.owners.set(folded, plan.sourceId);
    return plan;
  }

  private async apply(conn: DuckDBConnection, step: Step): Promise<void> {
    const shape = { target: step.ident, meta: quotedMeta, deletePolicy: this.policy, now: 'now()' } as const;
    if (step.stage === null) {
      if (step.plan === null && !(await this.tableExists(conn, step.table))) return;
      const p = step.first.position;
      await conn.run(truncateSql(shape, p.commit, p.index, `make_timestamptz(${step.first.commitTimeUs})`));
      return;
    }
    const plan = step.plan as DuckTablePlan;
    const { targets, nulls } = await this.ensureTable(conn, plan, step.first.schema);
    const merge: MergeShape = { ...shape, stage: step.stage, columns: plan.columns.map((c) => c.ident), targets, nulls, keyIndexes: plan.keyIndexes, unchanged: STAGE_UNCHANGED, partial: step.partial };
    await conn.run(mergeSql(merge));
  }

  /**
   * Every table version of the batch is created or evolved before any row is
   * applied: DuckDB refuses to commit DDL on a table the same transaction
   * already updated. When that changed a table, the versions are planned
   * again against the result, so an older version in the batch writes the
   * columns as they are now (and skips one a newer version dropped).
   */
  private async evolveAll(conn: DuckDBConnection, steps: readonly Step[]): Promise<Map<string, Fill[]>> {
    let changed = false;
    const fills = new Map<string, Fill[]>();
    for (const s of steps) {
      if (s.plan === null) continue;
      const e = await this.ensureTable(conn, s.plan, s.first.schema);
      if ((e.evolution?.changes.length ?? 0) > 0) changed = true;
      if (e.fills.length > 0) fills.set(`${s.plan.ident}|${s.first.schema.version}`, [...e.fills]);
    }
    if (changed) for (const s of steps) if (s.plan !== null) await this.ensureTable(conn, s.plan, s.first.schema, true);
    return fills;
  }

  /** Creates or evolves the table inside the batch transaction (evolve.ts); the result is kept per table version until a batch fails. */
  private async ensureTable(conn: DuckDBConnection, plan: DuckTablePlan, schema: TableSchema, fresh = false): Promise<Evolved> {
    const version = schema.version;
    const key = `${plan.ident}|${version}`;
    const known = this.ready.get(key);
    if (known !== undefined && !fresh) return known;
    const forget = (): void => {
      // Other versions' mappings were made against the table as it was: plan them again when next used.
      for (const k of [...this.ready.keys()]) if (k.startsWith(`${plan.ident}|`)) this.ready.delete(k);
    };
    try {
      const evolved = await ensureDuckTable(conn, this.options.schema, plan, schema, this.policy, this.options.dropColumns === true);
      for (const c of evolved.evolution?.changes ?? []) this.options.logger?.info('destination table evolved', { sink: this.name, table: plan.name, version, change: c });
      if ((evolved.evolution?.changes.length ?? 0) > 0) forget();
      // Fills run once, in the batch that added the column: the cached mapping has none.
      this.ready.set(key, { ...evolved, fills: [] });
      return evolved;
    } catch (err) {
      throw err instanceof HubError ? new HubError(err.kind, `sink ${this.name}: ${err.message}`, { cause: err }) : err;
    }
  }

  private async tableExists(conn: DuckDBConnection, table: string): Promise<boolean> {
    const r = await conn.runAndReadAll(
      `SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ${quoteLiteral(this.options.schema)} AND lower(table_name) = lower(${quoteLiteral(table)})`,
    );
    return Number(r.getRows()[0]?.[0] ?? 0) > 0;
  }

  private async readOffset(conn: DuckDBConnection): Promise<bigint | null> {
    const r = await conn.runAndReadAll(`SELECT log_offset FROM ${this.offsets} WHERE sink = ${quoteLiteral(this.name)}`);
    const v = r.getRows()[0]?.[0];
    return v === undefined || v === null ? null : BigInt(v as bigint);
  }

  /** DuckDB reports no error codes through this API: data and schema problems are told apart by where they arise, never by message text. */
  private classify(err: unknown, where: string | undefined): HubError {
    if (err instanceof HubError) return err;
    const at = `sink ${this.name}${where === undefined ? '' : `, table ${where}`}`;
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof RangeError || err instanceof TypeError) return new HubError('sink-rejected', `${at}: ${message}`, { cause: err });
    return new HubError('sink-rejected', `${at}: DuckDB refused the batch: ${message}`, { cause: err });
  }
}
