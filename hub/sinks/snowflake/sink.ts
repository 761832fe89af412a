/**
 * Snowflake sink. Per batch: every run (changes of one table version) is
 * written to a gzip'd JSON-lines file, PUT to the internal stage and COPY'd
 * into a session-scoped staging table; then ONE transaction MERGEs each
 * staging table into its target (merge mode: latest change per key, guarded
 * by source position) or appends it to the raw change table (append mode),
 * and records the batch's log offset in the ledger table, so a re-applied
 * batch is a no-op. DDL runs before the transaction: Snowflake commits any
 * open transaction at a DDL statement.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { HubError } from '../../errors.js';
import { collapse } from '../merge/collapse.js';
import { OFFSETS_TABLE, type DeletePolicy } from '../merge/metadata.js';
import { mergeSql, truncateSql } from '../merge/merge-sql.js';
import { destinationTableName } from '../merge/naming.js';
import { splitRuns } from '../merge/runs.js';
import type { FlushPolicy, Sink, SinkBatch, SinkChange } from '../sink.js';
import { SnowflakeClient } from './client.js';
import type { SnowflakeSinkConfig } from './config.js';
import { M, UNCHANGED_COL, createTableSql, currentViewSql, ident, offsetsTableSql, planTable, quoteIdent, snowflakeName, stageTableSql, type SnowTablePlan } from './ddl.js';
import type { TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import type { Fill } from '../merge/fill.js';
import { columnsLedgerSql, evolveSnowTable, runFill, type Evolved } from './evolve.js';
import { commitTimeText, copySql, keyOnly, rowsOfEntries, stagedLines, type StagedRow } from './stage.js';

const STAGE = ident('_tributary_stage');

interface Step {
  readonly first: SinkChange;
  readonly last: SinkChange;
  readonly plan: SnowTablePlan | null;
  /** Target of a truncate that carries no columns. */
  readonly table: string;
  readonly stageTable: string | null;
  readonly file: string | null;
  readonly partial: boolean;
}

export class SnowflakeSink implements Sink {
  readonly name: string;
  readonly flush: FlushPolicy;
  private readonly client: SnowflakeClient;
  private readonly schemaIdent: string;
  private readonly offsets: string;
  private readonly policy: DeletePolicy;
  private readonly owners = new Map<string, string>();
  private readonly ready = new Map<string, Evolved>();

  constructor(private readonly config: SnowflakeSinkConfig) {
    this.name = config.name;
    this.flush = config.merge.flush;
    this.policy = config.merge.deletePolicy;
    this.client = new SnowflakeClient(config);
    try {
      this.schemaIdent = quoteIdent(config.schema, 'destination schema');
    } catch (cause) {
      throw new HubError('config', `sink ${config.name}: ${(cause as Error).message}`, { cause });
    }
    this.offsets = `${this.schemaIdent}.${ident(OFFSETS_TABLE)}`;
  }

  /** Logs in, creates the schema, the internal stage and the ledger table if missing; resolves with the durably applied log offset, or null. */
  async open(signal: AbortSignal): Promise<bigint | null> {
    signal.throwIfAborted();
    await this.client.exec(`CREATE SCHEMA IF NOT EXISTS ${this.schemaIdent}`);
    await this.client.exec(`USE SCHEMA ${this.schemaIdent}`);
    await this.client.exec(`CREATE STAGE IF NOT EXISTS ${STAGE}`);
    await this.client.exec(offsetsTableSql(this.schemaIdent));
    await this.client.exec(columnsLedgerSql(this.schemaIdent));
    return this.readOffset();
  }

  /** Resolves after the COMMIT that holds the batch and its offset; a batch the ledger already holds changes nothing. */
  async write(batch: SinkBatch, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const dir = mkdtempSync(join(tmpdir(), 'tributary-snowflake-'));
    const batchId = randomUUID();
    const steps: Step[] = [];
    try {
      for (const run of splitRuns(batch.changes)) steps.push(this.prepare(run, steps.length, dir));
      // A previous attempt may have committed this batch (its COMMIT reply lost): then skip the uploads too.
      const stored = await this.readOffset();
      if (stored !== null && stored >= batch.lastOffset) return;
      // Every version of the batch is evolved first; if that changed a table, the versions are planned again
      // against the result, so an older version in the batch writes the columns as they are now.
      let changed = false;
      const fills = new Map<Step, readonly Fill[]>();
      for (const s of steps) {
        if (s.plan === null) continue;
        const e = await this.ensureTable(s.plan, s.first.schema);
        if (e.evolution.changes.length > 0) changed = true;
        if (e.fills.length > 0) fills.set(s, e.fills);
      }
      if (changed) for (const s of steps) if (s.plan !== null) await this.ensureTable(s.plan, s.first.schema, true);
      for (const s of steps) await this.load(s, batchId);
      signal.throwIfAborted();
      await this.client.exec('BEGIN TRANSACTION');
      try {
        const again = await this.readOffset();
        if (again === null || again < batch.lastOffset) {
          for (const s of steps) {
            // Defaults for rows from before a version: after this table's earlier versions in the batch are applied.
            for (const f of fills.get(s) ?? []) await runFill(this.client, (s.plan as SnowTablePlan).ident, f, (s.plan as SnowTablePlan).columns[s.first.schema.columns.indexOf(f.column)]?.type ?? 'VARCHAR');
            await this.apply(s);
          }
          await this.client.exec(
            `MERGE INTO ${this.offsets} AS t USING (SELECT ? AS ${ident('sink')}, ?::NUMBER(20,0) AS ${ident('log_offset')}) AS s ON t.${ident('sink')} = s.${ident('sink')} ` +
              `WHEN MATCHED THEN UPDATE SET ${ident('log_offset')} = s.${ident('log_offset')}, ${ident('updated_at')} = CURRENT_TIMESTAMP() ` +
              `WHEN NOT MATCHED THEN INSERT (${ident('sink')}, ${ident('log_offset')}, ${ident('updated_at')}) VALUES (s.${ident('sink')}, s.${ident('log_offset')}, CURRENT_TIMESTAMP())`,
            [this.name, batch.lastOffset.toString()],
          );
        }
        signal.throwIfAborted();
        await this.client.exec('COMMIT');
      } catch (err) {
        await this.client.exec('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } catch (err) {
      this.ready.clear();
      if (signal.aborted && err === signal.reason) throw err;
      if (err instanceof HubError) throw err;
      if (err instanceof RangeError || err instanceof TypeError) throw new HubError('sink-rejected', `sink ${this.name}: ${err.message}`, { cause: err });
      throw new HubError('internal', `sink ${this.name}: ${String(err)}`, { cause: err });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await this.client.exec(`REMOVE @${STAGE}/${batchId}`).catch(() => undefined);
      for (const s of steps) if (s.stageTable !== null) await this.client.exec(`DROP TABLE IF EXISTS ${s.stageTable}`).catch(() => undefined);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.client.close();
  }

  private append(): boolean {
    return this.config.mode === 'append';
  }

  /** Plans a run and writes its staged file (merge: one row per key; append: one row per change). */
  private prepare(run: readonly SinkChange[], i: number, dir: string): Step {
    const first = run[0] as SinkChange;
    const last = run[run.length - 1] as SinkChange;
    const table = snowflakeName(destinationTableName(first.schema.schema, first.schema.table)) + (this.append() ? '_CHANGES' : '');
    if (first.op === 'truncate') return { first, last, plan: first.schema.columns.length > 0 ? this.plan(first) : null, table, stageTable: null, file: null, partial: false };
    const plan = this.plan(first);
    const rows = this.append() ? changeRows(plan, run) : rowsOfEntries(plan, collapse(plan, run).values());
    const { text, partial } = stagedLines(plan, rows);
    const file = join(dir, `run-${i}.json.gz`);
    writeFileSync(file, gzipSync(text));
    return { first, last, plan, table, stageTable: ident(`_tributary_stage_${i}`), file, partial };
  }

  private plan(change: SinkChange): SnowTablePlan {
    let plan: SnowTablePlan;
    try {
      plan = planTable(this.schemaIdent, change.schema, this.append() ? '_CHANGES' : '');
    } catch (err) {
      throw err instanceof HubError ? new HubError(err.kind, `sink ${this.name}: ${err.message}`, { cause: err }) : err;
    }
    const owner = this.owners.get(plan.name);
    if (owner !== undefined && owner !== plan.sourceId) throw new HubError('schema', `sink ${this.name}: source tables ${owner} and ${plan.sourceId} both land as Snowflake table ${plan.name}`);
    this.owners.set(plan.name, plan.sourceId);
    return plan;
  }

  /** Creates or evolves the table (evolve.ts) once per table version, before the transaction. */
  private async ensureTable(plan: SnowTablePlan, schema: TableSchema, fresh = false): Promise<Evolved> {
    const version = schema.version;
    const key = `${plan.ident}|${version}`;
    const known = this.ready.get(key);
    if (known !== undefined && !fresh) return known;
    const forget = (): void => {
      // Other versions' mappings were made against the table as it was: plan them again when next used.
      for (const k of [...this.ready.keys()]) if (k.startsWith(`${plan.ident}|`)) this.ready.delete(k);
    };
    await this.client.exec(createTableSql(plan, this.policy, this.append()));
    const evolved = await evolveSnowTable(this.client, this.config.schema, this.schemaIdent, plan, schema, this.config.merge.dropColumns);
    if (this.policy === 'soft' && !this.append()) await this.client.exec(`ALTER TABLE ${plan.ident} ADD COLUMN IF NOT EXISTS ${M.deleted} BOOLEAN DEFAULT FALSE`);
    if (this.append()) {
      const view = `${this.schemaIdent}.${quoteIdent(plan.name.slice(0, -'_CHANGES'.length), 'current-state view')}`;
      const columns = [...evolved.targets, ...evolved.nulls].flatMap((ident) => (ident === null ? [] : [{ ident }]));
      await this.client.exec(currentViewSql(view, plan.ident, { keyIndexes: plan.keyIndexes, columns }, this.policy));
    }
    if (evolved.evolution.changes.length > 0) forget();
    // Fills run once, in the batch that added the column: the cached mapping has none.
    this.ready.set(key, { ...evolved, fills: [] });
    return evolved;
  }

  private async load(step: Step, batchId: string): Promise<void> {
    if (step.file === null || step.stageTable === null || step.plan === null) return;
    await this.client.exec(stageTableSql(step.stageTable, step.plan));
    await this.client.exec(`PUT 'file://${step.file.replace(/'/g, "\\'")}' @${STAGE}/${batchId} AUTO_COMPRESS = FALSE SOURCE_COMPRESSION = GZIP OVERWRITE = TRUE`);
    const name = step.file.slice(step.file.lastIndexOf('/') + 1);
    await this.client.exec(copySql(step.stageTable, step.plan, `@${STAGE}/${batchId}/${name}`));
  }

  private async apply(step: Step): Promise<void> {
    const target = step.plan?.ident ?? `${this.schemaIdent}.${quoteIdent(step.table, 'destination table')}`;
    const shape = { target, meta: M, deletePolicy: this.policy, now: 'CURRENT_TIMESTAMP()' } as const;
    const p = step.last.position;
    if (step.stageTable === null) {
      if (step.plan === null && !(await this.exists(step.table))) return;
      if (this.append()) {
        await this.client.exec(
          `INSERT INTO ${target} (${M.lsn}, ${M.index}, ${M.op}, ${M.commitTime}, ${M.syncedAt}) SELECT ${p.commit}, ${p.index}, 't', '${commitTimeText(step.last.commitTimeUs)}'::TIMESTAMP_TZ(6), CURRENT_TIMESTAMP() ` +
            `WHERE NOT EXISTS (SELECT 1 FROM ${target} WHERE ${M.lsn} = ${p.commit} AND ${M.index} = ${p.index} AND ${M.op} = 't')`,
        );
        return;
      }
      await this.client.exec(truncateSql(shape, p.commit, p.index, `'${commitTimeText(step.last.commitTimeUs)}'::TIMESTAMP_TZ(6)`));
      return;
    }
    const plan = step.plan as SnowTablePlan;
    const { targets, nulls } = await this.ensureTable(plan, step.first.schema);
    if (this.append()) {
      const meta = [M.lsn, M.index, M.op, M.commitTime, UNCHANGED_COL];
      const written = plan.columns.flatMap((c, i) => (targets[i] === null ? [] : [{ from: c.ident, to: targets[i] as string }]));
      const cols = [...written.map((w) => w.from), ...meta];
      await this.client.exec(
        `INSERT INTO ${target} (${[...written.map((w) => w.to), ...meta].join(', ')}, ${M.syncedAt}) SELECT ${cols.map((c) => `s.${c}`).join(', ')}, CURRENT_TIMESTAMP() FROM ${step.stageTable} AS s ` +
          `WHERE NOT EXISTS (SELECT 1 FROM ${target} AS r WHERE r.${M.lsn} = s.${M.lsn} AND r.${M.index} = s.${M.index} AND r.${M.op} = s.${M.op})`,
      );
      return;
    }
    await this.client.exec(mergeSql({ ...shape, stage: step.stageTable, columns: plan.columns.map((c) => c.ident), targets, nulls, keyIndexes: plan.keyIndexes, unchanged: UNCHANGED_COL, partial: step.partial }));
  }

  private async exists(table: string): Promise<boolean> {
    const r = await this.client.exec(`SELECT count(*) AS "n" FROM information_schema.tables WHERE table_schema = ? AND table_name = ?`, [this.config.schema, table]);
    return Number(r[0]?.['n'] ?? 0) > 0;
  }

  private async readOffset(): Promise<bigint | null> {
    const r = await this.client.exec(`SELECT ${ident('log_offset')}::VARCHAR AS "o" FROM ${this.offsets} WHERE ${ident('sink')} = ?`, [this.name]);
    const v = r[0]?.['o'];
    return v === undefined || v === null ? null : BigInt(String(v));
  }
}

/** Append mode stages every change; a key change also stages a delete of the old key at the same position. */
function changeRows(plan: SnowTablePlan, run: readonly SinkChange[]): StagedRow[] {
  const out: StagedRow[] = [];
  for (const change of run) {
    for (const e of collapse(plan, [change]).values()) {
      out.push(e.kind === 'upsert' ? { values: e.row, change, op: ({ insert: 'c', update: 'u', read: 'r' } as Record<string, string>)[change.op] ?? 'u' } : { values: keyOnly(plan, e.key), change, op: 'd' });
    }
  }
  return out;
}
