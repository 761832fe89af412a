/**
 * Creates or evolves a DuckDB destination table for one source table version
 * (policy in merge/evolve.ts), inside the batch transaction, recording each
 * column's type and the newest version applied in the `_tributary_columns`
 * ledger. DuckDB compares names case-insensitively, so the plan folds them.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { HubError } from '../../errors.js';
import type { TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import type { UNCHANGED, Value } from '../../../proto/tributary/v1/row-codec.js';
import { planEvolution, type Evolution, type LedgerColumn } from '../merge/evolve.js';
import { fillsOf, type Fill } from '../merge/fill.js';
import { duckType, toDuck } from './types.js';
import { COLUMNS_LEDGER, META, isMetaName, type DeletePolicy } from '../merge/metadata.js';
import { commentSql, createTableSql, ownedByOther, quoteIdent, quoteLiteral, type DuckTablePlan } from './ddl.js';

export interface Evolved {
  /** Quoted target column per plan column (null: not written, see merge/evolve.ts skipMissing). */
  readonly targets: readonly (string | null)[];
  /** Quoted columns set NULL by this version's changes. */
  readonly nulls: readonly string[];
  readonly evolution: Evolution | null;
  /** Columns this call added whose rows from before the version take the source's default (merge/fill.ts). */
  readonly fills: readonly Fill[];
}

export function columnsLedgerSql(destSchema: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteIdent(destSchema)}.${quoteIdent(COLUMNS_LEDGER)} ` +
    `(table_name VARCHAR NOT NULL, column_name VARCHAR NOT NULL, column_type VARCHAR NOT NULL, schema_version INTEGER NOT NULL, PRIMARY KEY (table_name, column_name))`
  );
}

const fold = (n: string): string => n.toLowerCase();

export async function ensureDuckTable(conn: DuckDBConnection, destSchema: string, plan: DuckTablePlan, schema: TableSchema, policy: DeletePolicy, dropColumns: boolean): Promise<Evolved> {
  const version = schema.version;
  const schemaLit = quoteLiteral(destSchema);
  const ledger = `${quoteIdent(destSchema)}.${quoteIdent(COLUMNS_LEDGER)}`;
  const record = async (cols: readonly (LedgerColumn | null)[], stamp: number): Promise<void> => {
    for (const c of cols)
      if (c !== null)
        await conn.run(
        `INSERT INTO ${ledger} VALUES (${quoteLiteral(plan.name)}, ${quoteLiteral(c.name)}, ${quoteLiteral(c.type)}, ${stamp}) ` +
          `ON CONFLICT (table_name, column_name) DO UPDATE SET column_type = EXCLUDED.column_type, schema_version = EXCLUDED.schema_version`,
      );
  };
  const found = await conn.runAndReadAll(
    `SELECT comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ${schemaLit} AND lower(table_name) = lower(${quoteLiteral(plan.name)})`,
  );
  const row = found.getRows()[0];
  if (row === undefined) {
    await conn.run(createTableSql(plan, policy));
    await conn.run(commentSql(plan));
    await record(plan.columns, version);
    return { targets: plan.columns.map((c) => c.ident), nulls: [], evolution: null, fills: [] };
  }
  const comment = row[0] === null || row[0] === undefined ? null : String(row[0]);
  if (ownedByOther(comment, plan)) throw new HubError('schema', `destination table ${plan.name} already holds another source table (${comment}); ${plan.source} maps to the same name`);
  const cols = (
    await conn.runAndReadAll(
      `SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ${schemaLit} AND lower(table_name) = lower(${quoteLiteral(plan.name)}) ORDER BY column_index`,
    )
  ).getRows().map((r) => String(r[0]));
  if (policy === 'soft' && !cols.includes(META.deleted)) await conn.run(`ALTER TABLE ${plan.ident} ADD COLUMN ${META.deleted} BOOLEAN DEFAULT FALSE`);
  const rows = (await conn.runAndReadAll(`SELECT column_name, column_type, schema_version FROM ${ledger} WHERE table_name = ${quoteLiteral(plan.name)}`)).getRows();
  const known = new Map(rows.map((r) => [fold(String(r[0])), String(r[1])]));
  const newest = Math.max(0, ...rows.map((r) => Number(r[2])));
  const wantedType = new Map(plan.columns.map((c) => [fold(c.name), c.type]));
  const existing = cols.filter((n) => !isMetaName(n)).map((n) => ({ name: n, type: known.get(fold(n)) ?? wantedType.get(fold(n)) ?? 'unknown' }));
  const older = version < newest;
  // Every version of a batch is evolved before any of its rows is applied (DuckDB refuses DDL on a table the
  // transaction already updated), so an older version skips columns a newer one dropped.
  const evolution = planEvolution(existing, plan.columns, { older, dropColumns, fold, skipMissing: true });
  for (const ch of evolution.changes) {
    const col = quoteIdent(ch.name, `table ${plan.source}: column`);
    if (ch.kind === 'add') await conn.run(`ALTER TABLE ${plan.ident} ADD COLUMN ${col} ${ch.type}`);
    else if (ch.kind === 'alter') await conn.run(`ALTER TABLE ${plan.ident} ALTER COLUMN ${col} SET DATA TYPE ${ch.to}`);
    else {
      await conn.run(`ALTER TABLE ${plan.ident} DROP COLUMN ${col}`);
      await conn.run(`DELETE FROM ${ledger} WHERE table_name = ${quoteLiteral(plan.name)} AND lower(column_name) = ${quoteLiteral(fold(ch.name))}`);
    }
  }
  await record(evolution.targets, older ? newest : version);
  return { targets: evolution.targets.map((t) => (t === null ? null : quoteIdent(t.name))), nulls: evolution.nulled.map((n) => quoteIdent(n)), evolution, fills: fillsOf(schema, evolution, older) };
}

/** Sets a filled column in the rows written before the version (merge/fill.ts); a DML statement, so after every DDL of the batch. */
export async function runFill(conn: DuckDBConnection, ident: string, f: Fill, dialect: string): Promise<void> {
  await conn.run(
    `UPDATE ${ident} SET ${quoteIdent(f.target)} = $1 WHERE ${META.lsn} < ${f.before.commit} OR (${META.lsn} = ${f.before.commit} AND ${META.index} < ${f.before.index})`,
    [toDuck(f.value as Exclude<Value, null | typeof UNCHANGED>, f.column, dialect)],
    [duckType(f.column, dialect)],
  );
}
