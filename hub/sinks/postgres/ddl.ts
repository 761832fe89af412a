/**
 * Destination naming, type mapping and DDL. Every identifier and type that
 * reaches SQL text comes from the wire, so each one is validated here and
 * identifiers are always double-quoted.
 *
 * Naming: a source table `public.t` lands as `<dest schema>.t`; any other
 * source schema `s.t` lands as `<dest schema>.s_t`, always (not only on a
 * clash), so a table's destination name never depends on which other tables
 * exist. Two sources that still map to one name (`public.a_b` and `a.b`) are
 * refused: in memory per sink, and across restarts through the table comment
 * that records which source table a destination table holds.
 */
import type { ClientBase } from 'pg';
import { ValueKind, type Column, type TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { HubError } from '../../errors.js';
import { pgTypeForMySql } from './mysql-types.js';
import { META, OFFSETS_TABLE, isMetaName, type DeletePolicy } from '../merge/metadata.js';
import { destinationTableName } from '../merge/naming.js';
import { evolveTable, recordColumns, type EvolveResult } from './evolve.js';

export { META, OFFSETS_TABLE } from '../merge/metadata.js';
export { destinationTableName } from '../merge/naming.js';
const COMMENT_PREFIX = 'tributary source ';

/** PostgreSQL silently truncates identifiers to NAMEDATALEN-1 bytes; refuse instead of merging names. */
const MAX_IDENT_BYTES = 63;

export interface PlannedColumn {
  readonly name: string;
  /** Quoted identifier. */
  readonly ident: string;
  /** Type for CREATE TABLE / ADD COLUMN. */
  readonly type: string;
  /** Type for the explicit cast of a text parameter (see castType). */
  readonly cast: string;
}

/** Everything needed to write one version of a source table to its destination table. */
export interface TablePlan {
  /** `schema.table` at the source, for messages. */
  readonly source: string;
  /** Unambiguous source identity (JSON of [schema, table]) for the ownership comment and clash checks. */
  readonly sourceId: string;
  /** Destination table name, unquoted, for messages. */
  readonly name: string;
  /** Quoted `"schema"."table"`. */
  readonly ident: string;
  readonly columns: readonly PlannedColumn[];
  /** Positions of the key columns in `columns`, in key order. */
  readonly keyIndexes: readonly number[];
  /** Soft-delete policy: the table carries `_tributary_deleted`. */
  readonly softDelete: boolean;
  /** Quoted data columns this version does not write (dropped at the source): set NULL by every change. */
  readonly nulled: readonly string[];
}

/** Double-quotes an identifier (embedded quotes doubled) after checking PostgreSQL can hold it unchanged. */
export function quoteIdent(name: string, what = 'identifier'): string {
  if (name.length === 0) throw new HubError('schema', `${what} is empty`);
  if (name.includes('\0')) throw new HubError('schema', `${what} ${JSON.stringify(name)} contains a NUL character`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENT_BYTES) {
    throw new HubError('schema', `${what} ${JSON.stringify(name)} is ${bytes} bytes; PostgreSQL identifiers hold at most ${MAX_IDENT_BYTES}`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** A string literal that reads the same whatever standard_conforming_strings says (E'' with \ and ' escaped). */
export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new HubError('schema', 'text for DDL contains a NUL character');
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

const TYPE_CHARS = /^[A-Za-z0-9_ .,()[\]]+$/;
/**
 * A type name as format_type() prints it: a (possibly schema-qualified) name,
 * then only the fixed words of multi-word SQL types, one optional numeric
 * modifier, and array brackets. Free words are refused so that text like
 * `text references other` or `int check(...)` cannot add constraints.
 */
const TYPE_GRAMMAR =
  /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?( (precision|varying|with|without|time|zone|year|month|day|hour|minute|second|to))*(\(\d{1,4}(, ?\d{1,4})?\))?( (with|without|time|zone|to|second))*( ?\[\d*\])*$/;

/** `where` names the column in messages, e.g. `table public.t column "c"`. */
export function validateSourceType(type: string, where: string): string {
  if (!TYPE_CHARS.test(type) || !TYPE_GRAMMAR.test(type)) {
    throw new HubError('schema', `${where}: source type ${JSON.stringify(type)} is not a plain PostgreSQL type name`);
  }
  return type;
}

/** Destination type: the source's own type, except enums (the enum type does not exist here) as text. */
export function columnType(col: Column, table = '', dialect = ''): string {
  if (dialect === 'mysql') return pgTypeForMySql(col, `${table ? `table ${table} ` : ''}column ${JSON.stringify(col.name)}`);
  if (col.kind === ValueKind.ENUM) return 'text';
  if (col.kind === ValueKind.ARRAY && col.elementKind === ValueKind.ENUM) return 'text[]';
  return validateSourceType(col.sourceType, `${table ? `table ${table} ` : ''}column ${JSON.stringify(col.name)}`);
}

/**
 * The cast for a parameter. Lengths of varchar(n) and char(n) are dropped: an
 * explicit cast to them silently truncates, while the assignment to the column
 * then rejects an over-long value (22001) instead of losing data. (A bare
 * `character` cast means character(1), hence bpchar.)
 */
export function castType(type: string): string {
  return type.replace(/^(character varying|varchar)\(\d+\)/, '$1').replace(/^(character|char)\(\d+\)/, 'bpchar');
}

export function planTable(destSchema: string, schema: TableSchema, policy: DeletePolicy = 'hard'): TablePlan {
  const source = `${schema.schema}.${schema.table}`;
  const name = destinationTableName(schema.schema, schema.table);
  const ident = `${quoteIdent(destSchema, 'destination schema')}.${quoteIdent(name, `destination table for ${source}`)}`;
  const seen = new Set<string>();
  const columns = schema.columns.map((col): PlannedColumn => {
    if (isMetaName(col.name)) throw new HubError('schema', `table ${source}: column ${col.name} clashes with a Tributary metadata column`);
    if (seen.has(col.name)) throw new HubError('schema', `table ${source}: column ${JSON.stringify(col.name)} appears twice`);
    seen.add(col.name);
    const type = columnType(col, source, schema.sourceDialect);
    return { name: col.name, ident: quoteIdent(col.name, `table ${source}: column`), type, cast: castType(type) };
  });
  const keyIndexes = schema.columns.flatMap((col, i) => (col.key ? [i] : []));
  if (keyIndexes.length === 0) {
    throw new HubError(
      'schema',
      `table ${source} has no key columns: the PostgreSQL sink upserts and deletes by key, so the source table needs a primary key ` +
        `(or REPLICA IDENTITY USING INDEX on a unique index)`,
    );
  }
  return { source, sourceId: JSON.stringify([schema.schema, schema.table]), name, ident, columns, keyIndexes, softDelete: policy === 'soft', nulled: [] };
}

export function createSchemaSql(destSchema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(destSchema, 'destination schema')}`;
}

export function offsetsTableSql(destSchema: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteIdent(destSchema, 'destination schema')}.${quoteIdent(OFFSETS_TABLE)} ` +
    `(sink text PRIMARY KEY, log_offset numeric NOT NULL, updated_at timestamptz)`
  );
}

export function createTableSql(plan: TablePlan): string {
  const cols = plan.columns.map((c) => `${c.ident} ${c.type}`);
  const key = plan.keyIndexes.map((i) => plan.columns[i]?.ident).join(', ');
  return (
    `CREATE TABLE IF NOT EXISTS ${plan.ident} (${cols.join(', ')}, ` +
    `${META.lsn} bigint NOT NULL, ${META.index} integer NOT NULL, ${META.op} character(1), ` +
    `${META.commitTime} timestamptz, ${META.syncedAt} timestamptz DEFAULT now(), ` +
    `${plan.softDelete ? `${META.deleted} boolean NOT NULL DEFAULT false, ` : ''}PRIMARY KEY (${key}))`
  );
}

export function ownerComment(plan: TablePlan): string {
  return COMMENT_PREFIX + plan.sourceId;
}

export function commentSql(plan: TablePlan): string {
  return `COMMENT ON TABLE ${plan.ident} IS ${quoteLiteral(ownerComment(plan))}`;
}

/** The comment names another source table: two sources map to one destination name. */
export function ownedByOther(comment: string | null, plan: TablePlan): boolean {
  return comment !== null && comment.startsWith(COMMENT_PREFIX) && comment !== ownerComment(plan);
}

/**
 * Creates the table if missing (with its ownership comment), else checks that
 * it holds this source table and evolves it to this version (evolve.ts).
 * Runs inside the caller's transaction, so a failed batch also undoes its
 * DDL. Returns the plan that writes the version's rows.
 */
export async function ensureTable(client: ClientBase, destSchema: string, plan: TablePlan, schema: TableSchema, dropColumns: boolean): Promise<EvolveResult | null> {
  const version = schema.version;
  const found = await client.query<{ comment: string | null; columns: string[] }>(
    `SELECT obj_description(c.oid, 'pg_class') AS comment,
            ARRAY(SELECT attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
       FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [plan.ident],
  );
  const existing = found.rows[0];
  if (existing === undefined) {
    await client.query(createTableSql(plan));
    await client.query(commentSql(plan));
    await recordColumns(client, destSchema, plan, version);
    return null;
  }
  if (ownedByOther(existing.comment, plan)) {
    throw new HubError(
      'schema',
      `destination table ${plan.name} already holds another source table (${existing.comment}); ` +
        `${plan.source} maps to the same name`,
    );
  }
  if (plan.softDelete && !existing.columns.includes(META.deleted)) await client.query(`ALTER TABLE ${plan.ident} ADD COLUMN IF NOT EXISTS ${META.deleted} boolean NOT NULL DEFAULT false`);
  return evolveTable(client, destSchema, plan, schema, existing.columns, dropColumns);
}

/** Whether a table exists, for a truncate that carries no columns to create it from. */
export async function tableExists(client: ClientBase, ident: string): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [ident]);
  return r.rows[0]?.ok === true;
}
