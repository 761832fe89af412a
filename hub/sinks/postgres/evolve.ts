/**
 * Evolves a PostgreSQL destination table to a source table version (policy in
 * merge/evolve.ts), inside the batch's transaction: the DDL, the column
 * ledger and the rows that follow commit or roll back together.
 *
 * The ledger `_tributary_columns` records, per destination table and column,
 * the type the sink gave it and the newest schema version applied; it tells a
 * widened or incompatible type change apart from a replay of an older
 * version without parsing the catalog's type spelling.
 */
import type { ClientBase } from 'pg';
import { HubError } from '../../errors.js';
import { planEvolution, type Evolution, type LedgerColumn } from '../merge/evolve.js';
import type { TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { fillsOf } from '../merge/fill.js';
import { COLUMNS_LEDGER, META, isMetaName } from '../merge/metadata.js';
import { toPgParam } from './values.js';
import { castType, quoteIdent, type PlannedColumn, type TablePlan } from './ddl.js';

export function columnsLedgerSql(destSchema: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteIdent(destSchema, 'destination schema')}.${quoteIdent(COLUMNS_LEDGER)} ` +
    `(table_name text NOT NULL, column_name text NOT NULL, column_type text NOT NULL, schema_version integer NOT NULL, PRIMARY KEY (table_name, column_name))`
  );
}

export interface EvolveResult {
  readonly plan: TablePlan;
  readonly evolution: Evolution;
}

/**
 * Brings an existing table to `plan`'s version and returns the plan that
 * writes it: each source column's destination column, and the kept columns
 * written NULL. `columns` are the table's current column names.
 */
export async function evolveTable(client: ClientBase, destSchema: string, plan: TablePlan, schema: TableSchema, columns: readonly string[], dropColumns: boolean): Promise<EvolveResult> {
  const version = schema.version;
  const ledgerIdent = `${quoteIdent(destSchema)}.${quoteIdent(COLUMNS_LEDGER)}`;
  const rows = await client.query<{ column_name: string; column_type: string; schema_version: number }>(
    `SELECT column_name, column_type, schema_version FROM ${ledgerIdent} WHERE table_name = $1`,
    [plan.name],
  );
  const known = new Map(rows.rows.map((r) => [r.column_name, r.column_type]));
  const newest = Math.max(0, ...rows.rows.map((r) => r.schema_version));
  const wanted = plan.columns.map((c) => ({ name: c.name, type: c.type }));
  const wantedType = new Map(wanted.map((w) => [w.name, w.type]));
  // A table from before the ledger: its columns are taken to have the types this version wants.
  const existing: LedgerColumn[] = columns.filter((n) => !isMetaName(n)).map((n) => ({ name: n, type: known.get(n) ?? wantedType.get(n) ?? 'unknown' }));
  const older = version < newest;
  const evolution = planEvolution(existing, wanted, { older, dropColumns });
  for (const ch of evolution.changes) {
    const col = quoteIdent(ch.name, `table ${plan.source}: column`);
    if (ch.kind === 'add') await client.query(`ALTER TABLE ${plan.ident} ADD COLUMN IF NOT EXISTS ${col} ${ch.type}`);
    else if (ch.kind === 'alter') await client.query(`ALTER TABLE ${plan.ident} ALTER COLUMN ${col} TYPE ${ch.to} USING ${col}::${ch.to}`);
    else await client.query(`ALTER TABLE ${plan.ident} DROP COLUMN IF EXISTS ${col}`);
  }
  // Rows stored before a column added with a constant default read as that default at the source.
  for (const f of fillsOf(schema, evolution, older)) {
    const type = wantedType.get(f.target) ?? 'text';
    await client.query(
      `UPDATE ${plan.ident} SET ${quoteIdent(f.target)} = $1::${castType(type)} WHERE (${META.lsn}, ${META.index}) < ($2::bigint, $3::integer)`,
      [toPgParam(f.value), f.before.commit.toString(), String(f.before.index)],
    );
  }
  if (!older) await replaceKey(client, plan, evolution);
  const stamp = older ? newest : version;
  for (const t of evolution.targets) {
    if (t === null) continue;
    await client.query(
      `INSERT INTO ${ledgerIdent} (table_name, column_name, column_type, schema_version) VALUES ($1, $2, $3, $4) ` +
        `ON CONFLICT (table_name, column_name) DO UPDATE SET column_type = EXCLUDED.column_type, schema_version = EXCLUDED.schema_version`,
      [plan.name, t.name, t.type, stamp],
    );
  }
  const dropped = evolution.changes.flatMap((c) => (c.kind === 'drop' ? [c.name] : []));
  if (dropped.length > 0) await client.query(`DELETE FROM ${ledgerIdent} WHERE table_name = $1 AND column_name = ANY($2::text[])`, [plan.name, dropped]);
  const targets = plan.columns.map((c, i): PlannedColumn => {
    const t = evolution.targets[i] ?? c;
    return t.name === c.name && t.type === c.type ? c : { name: t.name, ident: quoteIdent(t.name, `table ${plan.source}: column`), type: t.type, cast: castType(t.type) };
  });
  return { plan: { ...plan, columns: targets, nulled: evolution.nulled.map((n) => quoteIdent(n)) }, evolution };
}

/** Records the columns of a table the sink just created, at `version`. */
export async function recordColumns(client: ClientBase, destSchema: string, plan: TablePlan, version: number): Promise<void> {
  for (const c of plan.columns) {
    await client.query(
      `INSERT INTO ${quoteIdent(destSchema)}.${quoteIdent(COLUMNS_LEDGER)} (table_name, column_name, column_type, schema_version) VALUES ($1, $2, $3, $4) ` +
        `ON CONFLICT (table_name, column_name) DO UPDATE SET column_type = EXCLUDED.column_type, schema_version = EXCLUDED.schema_version`,
      [plan.name, c.name, c.type, version],
    );
  }
}

/**
 * A primary-key change at the source: the destination's key follows, so
 * upserts by the new key work. Fails (SQLSTATE 23505, the sink stops and
 * reports it) when rows already stored collide under the new key; a
 * re-snapshot of the table is the way out (README, "Schema drift").
 */
async function replaceKey(client: ClientBase, plan: TablePlan, evolution: Evolution): Promise<void> {
  const want = plan.keyIndexes.map((i) => evolution.targets[i]?.name ?? (plan.columns[i] as PlannedColumn).name);
  const r = await client.query<{ name: string; columns: string[] }>(
    `SELECT c.conname AS name, ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o) AS columns
       FROM pg_constraint c WHERE c.conrelid = to_regclass($1) AND c.contype = 'p'`,
    [plan.ident],
  );
  const pk = r.rows[0];
  if (pk !== undefined && JSON.stringify(pk.columns) === JSON.stringify(want)) return;
  const cols = want.map((n) => quoteIdent(n)).join(', ');
  try {
    await client.query(`ALTER TABLE ${plan.ident} ${pk === undefined ? '' : `DROP CONSTRAINT ${quoteIdent(pk.name)}, `}ADD PRIMARY KEY (${cols})`);
  } catch (cause) {
    throw new HubError('schema', `destination table ${plan.name}: the source's primary key changed to (${want.join(', ')}) and the stored rows do not fit it; re-snapshot the table`, { cause });
  }
}
