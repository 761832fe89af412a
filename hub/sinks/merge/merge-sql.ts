/**
 * The one idempotent apply, as SQL shared by the warehouse dialects (DuckDB
 * and Snowflake both take this MERGE): a staging table holds one row per key
 * (the run collapsed, latest change winning) and the MERGE applies it guarded
 * by the source position, so re-applying any batch changes nothing.
 *
 * Stage columns: the data columns (same names as the target), then the
 * metadata columns, then `_tributary_unchanged`: NULL, or one character per
 * data column, '1' where the value was not sent (TOAST) and the stored value
 * must stay.
 */
import type { DeletePolicy } from './metadata.js';

export const STAGE_UNCHANGED = '_tributary_unchanged';

export interface MergeShape {
  /** Qualified, quoted target table. */
  readonly target: string;
  /** Qualified, quoted staging table. */
  readonly stage: string;
  /** Quoted data column names of the stage, in stage order. */
  readonly columns: readonly string[];
  /** Quoted target column per stage column, when schema evolution moved one (merge/evolve.ts); null: not written; default: the same names. */
  readonly targets?: readonly (string | null)[];
  /** Quoted target columns the source dropped: set NULL by every staged change. */
  readonly nulls?: readonly string[];
  readonly keyIndexes: readonly number[];
  /** Quoted metadata column names. */
  readonly meta: { readonly lsn: string; readonly index: string; readonly op: string; readonly commitTime: string; readonly syncedAt: string; readonly deleted: string };
  readonly unchanged: string;
  readonly deletePolicy: DeletePolicy;
  /** Whether any staged row has UNCHANGED values (else the CASE per column is left out). */
  readonly partial: boolean;
  /** The dialect's current-timestamp expression. */
  readonly now: string;
}

/** The target row is older than the staged change: (lsn, index) compared as a pair. */
function guard(m: MergeShape['meta']): string {
  return `(t.${m.lsn} < s.${m.lsn} OR (t.${m.lsn} = s.${m.lsn} AND t.${m.index} < s.${m.index}))`;
}

export function mergeSql(x: MergeShape): string {
  const m = x.meta;
  const keys = new Set(x.keyIndexes);
  const tc = (i: number): string => (x.targets === undefined ? (x.columns[i] as string) : (x.targets[i] ?? ''));
  const written = (i: number): boolean => tc(i) !== '';
  const on = x.keyIndexes.map((i) => `t.${tc(i)} = s.${x.columns[i]}`).join(' AND ');
  const value = (c: string, i: number) => (x.partial ? `CASE WHEN SUBSTR(s.${x.unchanged}, ${i + 1}, 1) = '1' THEN t.${tc(i)} ELSE s.${c} END` : `s.${c}`);
  const metaSet = [`${m.lsn} = s.${m.lsn}`, `${m.index} = s.${m.index}`, `${m.op} = s.${m.op}`, `${m.commitTime} = s.${m.commitTime}`, `${m.syncedAt} = ${x.now}`];
  const soft = x.deletePolicy === 'soft';
  const nulls = (x.nulls ?? []).map((c) => `${c} = NULL`);
  const sets = [...x.columns.flatMap((c, i) => (keys.has(i) || !written(i) ? [] : [`${tc(i)} = ${value(c, i)}`])), ...nulls, ...metaSet, ...(soft ? [`${m.deleted} = FALSE`] : [])];
  const metaCols = [m.lsn, m.index, m.op, m.commitTime, m.syncedAt];
  const metaVals = [`s.${m.lsn}`, `s.${m.index}`, `s.${m.op}`, `s.${m.commitTime}`, x.now];
  // A row never stored cannot supply its unsent values: they land as NULL (README: TOAST).
  const insert = (all: readonly number[], deleted: boolean, idx = all.filter(written)) =>
    `INSERT (${[...idx.map(tc), ...metaCols, ...(soft ? [m.deleted] : [])].join(', ')}) VALUES (${[...idx.map((i) => `s.${x.columns[i]}`), ...metaVals, ...(soft ? [deleted ? 'TRUE' : 'FALSE'] : [])].join(', ')})`;
  const clauses = [
    soft
      ? `WHEN MATCHED AND s.${m.op} = 'd' AND ${guard(m)} THEN UPDATE SET ${[...metaSet, `${m.deleted} = TRUE`].join(', ')}`
      : `WHEN MATCHED AND s.${m.op} = 'd' AND ${guard(m)} THEN DELETE`,
    `WHEN MATCHED AND s.${m.op} <> 'd' AND ${guard(m)} THEN UPDATE SET ${sets.join(', ')}`,
    `WHEN NOT MATCHED AND s.${m.op} <> 'd' THEN ${insert(x.columns.map((_, i) => i), false)}`,
    // Soft deletes keep a tombstone even for a key never seen, so a replayed older insert cannot bring it back.
    ...(soft ? [`WHEN NOT MATCHED AND s.${m.op} = 'd' THEN ${insert(x.keyIndexes, true)}`] : []),
  ];
  return `MERGE INTO ${x.target} AS t USING ${x.stage} AS s ON ${on} ${clauses.join(' ')}`;
}

/**
 * A truncate at a source position: rows written before it go (hard) or are
 * marked deleted (soft); rows already written by later changes stay, so a
 * replayed truncate cannot remove them. `lsn`/`index` are trusted integers.
 */
export function truncateSql(x: Pick<MergeShape, 'target' | 'meta' | 'deletePolicy' | 'now'>, lsn: bigint, index: number, commitTime: string): string {
  const m = x.meta;
  const older = `(${m.lsn} < ${lsn} OR (${m.lsn} = ${lsn} AND ${m.index} < ${index}))`;
  if (x.deletePolicy === 'hard') return `DELETE FROM ${x.target} WHERE ${older}`;
  return `UPDATE ${x.target} SET ${m.deleted} = TRUE, ${m.op} = 't', ${m.lsn} = ${lsn}, ${m.index} = ${index}, ${m.commitTime} = ${commitTime}, ${m.syncedAt} = ${x.now} WHERE ${older}`;
}
