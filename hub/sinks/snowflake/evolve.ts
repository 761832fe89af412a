/**
 * Creates or evolves a Snowflake destination table for one source table
 * version (policy in merge/evolve.ts). Runs before the batch transaction:
 * Snowflake commits an open transaction at any DDL statement. Every step is
 * idempotent (IF [NOT] EXISTS, ledger upserts), so a crash between the DDL
 * and the ledger write is repaired by the next attempt.
 */
import type { TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { decodeRow } from '../../../proto/tributary/v1/row-codec.js';
import { planEvolution, type Evolution } from '../merge/evolve.js';
import { fillText, fillsOf, type Fill } from '../merge/fill.js';
import { COLUMNS_LEDGER, isMetaName } from '../merge/metadata.js';
import type { SnowflakeClient } from './client.js';
import { M, ident, quoteIdent, snowflakeName, type SnowTablePlan } from './ddl.js';

export interface Evolved {
  /** Quoted target column per plan column (null: not written, see merge/evolve.ts skipMissing). */
  readonly targets: readonly (string | null)[];
  /** Quoted columns set NULL by this version's changes. */
  readonly nulls: readonly string[];
  readonly evolution: Evolution;
  /** Columns this call added whose rows from before the version take the source's default (merge/fill.ts). */
  readonly fills: readonly Fill[];
}

const L = { table: ident('table_name'), column: ident('column_name'), type: ident('column_type'), version: ident('schema_version') };

export function columnsLedgerSql(schemaIdent: string): string {
  return `CREATE TABLE IF NOT EXISTS ${schemaIdent}.${ident(COLUMNS_LEDGER)} (${L.table} VARCHAR NOT NULL, ${L.column} VARCHAR NOT NULL, ${L.type} VARCHAR NOT NULL, ${L.version} NUMBER(10,0) NOT NULL)`;
}

/** `schemaName` is the destination schema as stored (for information_schema), `schemaIdent` quoted. */
export async function evolveSnowTable(client: SnowflakeClient, schemaName: string, schemaIdent: string, plan: SnowTablePlan, schema: TableSchema, dropColumns: boolean): Promise<Evolved> {
  const version = schema.version;
  const ledger = `${schemaIdent}.${ident(COLUMNS_LEDGER)}`;
  const cols = (await client.exec(`SELECT column_name AS "n" FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position`, [schemaName, plan.name])).map((r) =>
    String(r['n']),
  );
  const rows = await client.exec(`SELECT ${L.column} AS "c", ${L.type} AS "t", ${L.version} AS "v" FROM ${ledger} WHERE ${L.table} = ?`, [plan.name]);
  const known = new Map(rows.map((r) => [String(r['c']), String(r['t'])]));
  const newest = Math.max(0, ...rows.map((r) => Number(r['v'])));
  const recorded = new Set(rows.map((r) => JSON.stringify([String(r['c']), String(r['t']), Number(r['v'])])));
  const wanted = plan.columns.map((c) => ({ name: snowflakeName(c.name), type: c.type }));
  const wantedType = new Map(wanted.map((w) => [w.name, w.type]));
  const existing = cols.filter((n) => !isMetaName(n) && n !== '_TRIBUTARY_UNCHANGED').map((n) => ({ name: n, type: known.get(n) ?? wantedType.get(n) ?? 'unknown' }));
  const older = version < newest;
  // Every version of a batch is evolved before the batch's transaction, so an older version skips columns a newer one dropped.
  const evolution = planEvolution(existing, wanted, { older, dropColumns, skipMissing: true });
  for (const ch of evolution.changes) {
    const col = quoteIdent(ch.name, `table ${plan.source}: column`);
    if (ch.kind === 'add') {
      // DDL commits by itself in Snowflake: a default given with the column reaches the rows already there even if
      // the batch's transaction then fails (its own fill, runFill, covers rows the batch writes before the version).
      const missing = older ? undefined : missingText(schema, plan, ch.name);
      await client.exec(`ALTER TABLE ${plan.ident} ADD COLUMN IF NOT EXISTS ${col} ${ch.type}${missing === undefined ? '' : ` DEFAULT CAST(${snowLiteral(missing)} AS ${ch.type})`}`);
      if (missing !== undefined) await client.exec(`ALTER TABLE ${plan.ident} ALTER COLUMN ${col} DROP DEFAULT`);
    }
    else if (ch.kind === 'alter') await client.exec(`ALTER TABLE ${plan.ident} ALTER COLUMN ${col} SET DATA TYPE ${ch.to}`);
    else {
      await client.exec(`ALTER TABLE ${plan.ident} DROP COLUMN IF EXISTS ${col}`);
      await client.exec(`DELETE FROM ${ledger} WHERE ${L.table} = ? AND ${L.column} = ?`, [plan.name, ch.name]);
    }
  }
  const stamp = older ? newest : version;
  for (const t of evolution.targets) {
    // Each statement is a round trip to Snowflake: write only what the ledger does not hold yet.
    if (t === null || recorded.has(JSON.stringify([t.name, t.type, stamp]))) continue;
    await client.exec(
      `MERGE INTO ${ledger} AS l USING (SELECT ? AS ${L.table}, ? AS ${L.column}, ? AS ${L.type}, ?::NUMBER(10,0) AS ${L.version}) AS s ` +
        `ON l.${L.table} = s.${L.table} AND l.${L.column} = s.${L.column} ` +
        `WHEN MATCHED THEN UPDATE SET ${L.type} = s.${L.type}, ${L.version} = s.${L.version} ` +
        `WHEN NOT MATCHED THEN INSERT (${L.table}, ${L.column}, ${L.type}, ${L.version}) VALUES (s.${L.table}, s.${L.column}, s.${L.type}, s.${L.version})`,
      [plan.name, t.name, t.type, String(stamp)],
    );
  }
  return { targets: evolution.targets.map((t) => (t === null ? null : quoteIdent(t.name))), nulls: evolution.nulled.map((n) => quoteIdent(n)), evolution, fills: fillsOf(schema, evolution, older) };
}

/** Sets a filled column in the rows written before the version; values other than numbers, text and booleans are not filled (README). */
export async function runFill(client: SnowflakeClient, target: string, f: Fill, type: string): Promise<void> {
  const text = fillText(f.value);
  if (text === undefined) return;
  await client.exec(`UPDATE ${target} SET ${quoteIdent(f.target)} = ?::${type} WHERE ${M.lsn} < ${f.before.commit} OR (${M.lsn} = ${f.before.commit} AND ${M.index} < ${f.before.index})`, [text]);
}

/** The missing value (merge/fill.ts) of the source column landing as `name`, as text, when it has a plain form. */
function missingText(schema: TableSchema, plan: SnowTablePlan, name: string): string | undefined {
  const i = plan.columns.findIndex((c) => snowflakeName(c.name) === name);
  const col = schema.columns[i];
  if (col === undefined || col.missingValue.length === 0) return undefined;
  const v = decodeRow(col.missingValue)[0];
  return v === undefined || v === null ? undefined : fillText(v);
}

/** A Snowflake string literal: quotes doubled, backslashes escaped (Snowflake reads escape sequences in literals). */
function snowLiteral(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
