/**
 * DuckDB naming, identifiers and DDL. Identifiers are always double-quoted
 * (embedded quotes doubled), so any name lands as itself; but DuckDB matches
 * identifiers case-insensitively even when quoted, so two names differing
 * only in case (columns of one table, or two source tables) are refused.
 */
import type { Column, TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { ValueKind } from '../../../proto/gen/tributary/v1/change_pb.js';
import { HubError } from '../../errors.js';
import type { KeyedTable } from '../merge/collapse.js';
import { META, OFFSETS_TABLE, isMetaName, type DeletePolicy } from '../merge/metadata.js';
import { STAGE_UNCHANGED } from '../merge/merge-sql.js';
import { destinationTableName } from '../merge/naming.js';
import { duckType } from './types.js';

/** Longer names are refused: DuckDB has no limit, but no warehouse a user copies to takes more than 255. */
const MAX_IDENT_CHARS = 255;
const COMMENT_PREFIX = 'tributary source ';

export function quoteIdent(name: string, what = 'identifier'): string {
  if (name.length === 0) throw new HubError('schema', `${what} is empty`);
  if (name.includes('\0')) throw new HubError('schema', `${what} ${JSON.stringify(name)} contains a NUL character`);
  if ([...name].length > MAX_IDENT_CHARS) throw new HubError('schema', `${what} ${JSON.stringify(name.slice(0, 40))}… is longer than ${MAX_IDENT_CHARS} characters`);
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new HubError('schema', 'text for DDL contains a NUL character');
  return `'${text.replace(/'/g, "''")}'`;
}

export interface DuckColumn {
  readonly name: string;
  readonly ident: string;
  /** Type text for CREATE TABLE. */
  readonly type: string;
  readonly column: Column;
  /** The source's dialect (TableSchema.source_dialect), which the column's source type is written in. */
  readonly dialect: string;
}

export interface DuckTablePlan extends KeyedTable {
  readonly sourceId: string;
  readonly name: string;
  /** Quoted "schema"."table". */
  readonly ident: string;
  readonly columns: readonly DuckColumn[];
}

/** Column type text: DuckDB's own spelling, except JSON (an alias of VARCHAR that the type object does not print). */
export function ddlType(col: Column, dialect: string): string {
  const isJson = (k: ValueKind) => k === ValueKind.JSON || k === ValueKind.JSONB;
  if (isJson(col.kind)) return 'JSON';
  if (col.kind === ValueKind.ARRAY && isJson(col.elementKind)) return `JSON${'[]'.repeat(Math.max(1, col.arrayDims))}`;
  try {
    return duckType(col, dialect).toString();
  } catch (cause) {
    throw new HubError('schema', (cause as Error).message, { cause });
  }
}

export function planTable(destSchema: string, schema: TableSchema): DuckTablePlan {
  const source = `${schema.schema}.${schema.table}`;
  const name = destinationTableName(schema.schema, schema.table);
  const ident = `${quoteIdent(destSchema, 'destination schema')}.${quoteIdent(name, `destination table for ${source}`)}`;
  const seen = new Map<string, string>();
  const columns = schema.columns.map((col): DuckColumn => {
    if (isMetaName(col.name)) throw new HubError('schema', `table ${source}: column ${JSON.stringify(col.name)} uses the reserved prefix _tributary_`);
    const folded = col.name.toLowerCase();
    const other = seen.get(folded);
    if (other !== undefined) {
      throw new HubError('schema', `table ${source}: columns ${JSON.stringify(other)} and ${JSON.stringify(col.name)} differ only in case, which DuckDB cannot tell apart`);
    }
    seen.set(folded, col.name);
    return { name: col.name, ident: quoteIdent(col.name, `table ${source}: column`), type: ddlType(col, schema.sourceDialect), column: col, dialect: schema.sourceDialect };
  });
  const keyIndexes = schema.columns.flatMap((col, i) => (col.key ? [i] : []));
  if (keyIndexes.length === 0) {
    throw new HubError('schema', `table ${source} has no key columns: the sink merges by key, so the source table needs a primary key (or REPLICA IDENTITY USING INDEX)`);
  }
  return { source, sourceId: JSON.stringify([schema.schema, schema.table]), name, ident, columns, keyIndexes };
}

const META_DDL = [`${META.lsn} BIGINT NOT NULL`, `${META.index} INTEGER NOT NULL`, `${META.op} VARCHAR`, `${META.commitTime} TIMESTAMPTZ`, `${META.syncedAt} TIMESTAMPTZ`];

/** No PRIMARY KEY: the MERGE keeps one row per key, and DuckDB's index would only slow the apply. */
export function createTableSql(plan: DuckTablePlan, policy: DeletePolicy): string {
  const cols = [...plan.columns.map((c) => `${c.ident} ${c.type}`), ...META_DDL, ...(policy === 'soft' ? [`${META.deleted} BOOLEAN NOT NULL DEFAULT FALSE`] : [])];
  return `CREATE TABLE IF NOT EXISTS ${plan.ident} (${cols.join(', ')})`;
}

export function stageTableSql(stage: string, plan: DuckTablePlan): string {
  return `CREATE OR REPLACE TEMP TABLE ${stage} (${[...plan.columns.map((c) => `${c.ident} ${c.type}`), ...META_DDL, `${STAGE_UNCHANGED} VARCHAR`].join(', ')})`;
}

export function commentSql(plan: DuckTablePlan): string {
  return `COMMENT ON TABLE ${plan.ident} IS ${quoteLiteral(COMMENT_PREFIX + plan.sourceId)}`;
}

export function ownedByOther(comment: string | null, plan: DuckTablePlan): boolean {
  return comment !== null && comment.startsWith(COMMENT_PREFIX) && comment !== COMMENT_PREFIX + plan.sourceId;
}

export function offsetsTableSql(destSchema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(destSchema)}.${quoteIdent(OFFSETS_TABLE)} (sink VARCHAR PRIMARY KEY, log_offset BIGINT NOT NULL, updated_at TIMESTAMPTZ)`;
}
