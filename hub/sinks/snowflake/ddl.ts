/**
 * Snowflake naming, identifiers and DDL.
 *
 * Case: Snowflake folds unquoted names to upper case and compares quoted
 * names exactly. A source name in plain lower case (`order_items`) lands
 * upper-cased (`ORDER_ITEMS`), so users query it without quotes; any other
 * name (mixed case, spaces, quotes, unicode, reserved words) lands exactly as
 * written, always double-quoted. Two source names that land on one
 * identifier (`orders` and `ORDERS`) are refused. Identifiers hold at most
 * 255 characters; longer names are refused.
 */
import type { Column, TableSchema } from '../../../proto/gen/tributary/v1/change_pb.js';
import { HubError } from '../../errors.js';
import type { KeyedTable } from '../merge/collapse.js';
import { META, OFFSETS_TABLE, isMetaName, type DeletePolicy } from '../merge/metadata.js';
import { STAGE_UNCHANGED } from '../merge/merge-sql.js';
import { destinationTableName } from '../merge/naming.js';
import { mappingOf } from './types.js';

const MAX_IDENT_CHARS = 255;

/** The identifier a source name lands as (before quoting). */
export function snowflakeName(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name.toUpperCase() : name;
}

export function quoteIdent(name: string, what = 'identifier'): string {
  if (name.length === 0) throw new HubError('schema', `${what} is empty`);
  if (name.includes('\0')) throw new HubError('schema', `${what} ${JSON.stringify(name)} contains a NUL character`);
  if ([...name].length > MAX_IDENT_CHARS) throw new HubError('schema', `${what} ${JSON.stringify(name.slice(0, 40))}… is longer than ${MAX_IDENT_CHARS} characters`);
  return `"${name.replace(/"/g, '""')}"`;
}

/** A source name as a quoted Snowflake identifier. */
export const ident = (name: string, what?: string) => quoteIdent(snowflakeName(name), what);

export const M = {
  lsn: ident(META.lsn),
  index: ident(META.index),
  op: ident(META.op),
  commitTime: ident(META.commitTime),
  syncedAt: ident(META.syncedAt),
  deleted: ident(META.deleted),
} as const;
export const UNCHANGED_COL = ident(STAGE_UNCHANGED);

export interface SnowColumn {
  readonly name: string;
  readonly ident: string;
  readonly type: string;
  readonly column: Column;
  /** The source's dialect (TableSchema.source_dialect), which the column's source type is written in. */
  readonly dialect: string;
}

export interface SnowTablePlan extends KeyedTable {
  readonly sourceId: string;
  /** Destination identifier (after the case rule), unquoted. */
  readonly name: string;
  readonly ident: string;
  readonly columns: readonly SnowColumn[];
}

export function planTable(schemaIdent: string, schema: TableSchema, suffix = ''): SnowTablePlan {
  const source = `${schema.schema}.${schema.table}`;
  const name = snowflakeName(destinationTableName(schema.schema, schema.table)) + suffix;
  const seen = new Map<string, string>();
  const columns = schema.columns.map((col): SnowColumn => {
    if (isMetaName(col.name)) throw new HubError('schema', `table ${source}: column ${JSON.stringify(col.name)} uses the reserved prefix _tributary_`);
    const landed = snowflakeName(col.name);
    const other = seen.get(landed);
    if (other !== undefined) throw new HubError('schema', `table ${source}: columns ${JSON.stringify(other)} and ${JSON.stringify(col.name)} both land as Snowflake column ${JSON.stringify(landed)}`);
    seen.set(landed, col.name);
    let type: string;
    try {
      type = mappingOf(col).type(col, schema.sourceDialect);
    } catch (cause) {
      throw new HubError('schema', `table ${source}: ${(cause as Error).message}`, { cause });
    }
    return { name: col.name, ident: quoteIdent(landed, `table ${source}: column`), type, column: col, dialect: schema.sourceDialect };
  });
  const keyIndexes = schema.columns.flatMap((col, i) => (col.key ? [i] : []));
  if (keyIndexes.length === 0) throw new HubError('schema', `table ${source} has no key columns: the sink merges by key, so the source table needs a primary key (or REPLICA IDENTITY USING INDEX)`);
  return { source, sourceId: JSON.stringify([schema.schema, schema.table]), name, ident: `${schemaIdent}.${quoteIdent(name, `destination table for ${source}`)}`, columns, keyIndexes };
}

const META_DDL = [`${M.lsn} NUMBER(20,0) NOT NULL`, `${M.index} NUMBER(10,0) NOT NULL`, `${M.op} VARCHAR(1)`, `${M.commitTime} TIMESTAMP_TZ(6)`, `${M.syncedAt} TIMESTAMP_TZ(6)`];

export function createTableSql(plan: SnowTablePlan, policy: DeletePolicy, withMask = false): string {
  const cols = [...plan.columns.map((c) => `${c.ident} ${c.type}`), ...META_DDL, ...(policy === 'soft' ? [`${M.deleted} BOOLEAN DEFAULT FALSE`] : []), ...(withMask ? [`${UNCHANGED_COL} VARCHAR`] : [])];
  return `CREATE TABLE IF NOT EXISTS ${plan.ident} (${cols.join(', ')})`;
}

/** A session-scoped staging table (dropped with the session), unqualified so it lives in the session's schema. */
export function stageTableSql(stage: string, plan: SnowTablePlan): string {
  return `CREATE TEMPORARY TABLE ${stage} (${[...plan.columns.map((c) => `${c.ident} ${c.type}`), ...META_DDL, `${UNCHANGED_COL} VARCHAR`].join(', ')})`;
}

export function offsetsTableSql(schemaIdent: string): string {
  return `CREATE TABLE IF NOT EXISTS ${schemaIdent}.${ident(OFFSETS_TABLE)} (${ident('sink')} VARCHAR NOT NULL, ${ident('log_offset')} NUMBER(20,0) NOT NULL, ${ident('updated_at')} TIMESTAMP_TZ(6))`;
}

/**
 * Append mode's current-state view: the newest change per key after the
 * last truncate; deleted keys are left out (hard) or flagged (soft).
 */
export function currentViewSql(view: string, raw: string, plan: Pick<SnowTablePlan, 'keyIndexes'> & { readonly columns: readonly { readonly ident: string }[] }, policy: DeletePolicy): string {
  const keys = plan.keyIndexes.map((i) => `r.${plan.columns[i]?.ident}`).join(', ');
  const cols = plan.columns.map((c) => `r.${c.ident}`);
  const later = `(x.${M.lsn} > r.${M.lsn} OR (x.${M.lsn} = r.${M.lsn} AND x.${M.index} > r.${M.index}))`;
  return (
    `CREATE OR REPLACE VIEW ${view} AS SELECT ${[...cols, `r.${M.lsn}`, `r.${M.index}`, `r.${M.op}`, `r.${M.commitTime}`, `r.${M.syncedAt}`].join(', ')}` +
    `${policy === 'soft' ? `, r.${M.op} = 'd' AS ${M.deleted}` : ''} FROM ${raw} AS r ` +
    `WHERE r.${M.op} <> 't' AND NOT EXISTS (SELECT 1 FROM ${raw} AS x WHERE x.${M.op} = 't' AND ${later}) ` +
    `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${keys} ORDER BY r.${M.lsn} DESC, r.${M.index} DESC, r.${M.op} DESC) = 1${policy === 'soft' ? '' : ` AND r.${M.op} <> 'd'`}`
  );
}
