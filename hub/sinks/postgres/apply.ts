/**
 * Applies one run of changes (consecutive changes of one table version) inside
 * the caller's transaction. Every write is guarded by the source position
 * (commit, index in tx) so a replayed or older change never moves a row back.
 *
 * A run is first collapsed per primary key, latest change winning
 * (merge/collapse.ts), so each key appears once per statement (ON CONFLICT DO
 * UPDATE refuses to touch a row twice). The statements then run in this
 * order, which the key-change case relies on:
 *   1. rows with UNCHANGED (TOAST) values: update only the sent columns; if the
 *      row is missing, insert it, copying unsent columns from the old key's row
 *      when the update moved the key (the old row is still there: step 2 has
 *      not run yet);
 *   2. deletes (including old keys of key changes); under the soft-delete
 *      policy an upsert of a tombstone (`_tributary_deleted = true`, kept
 *      even for a key never seen, so a replay cannot bring the row back);
 *   3. full rows: multi-row INSERT ... ON CONFLICT DO UPDATE.
 */
import type { ClientBase } from 'pg';
import { UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';
import { collapse, type Delete, type Entry, type Upsert } from '../merge/collapse.js';
import { OP_CHAR, type DeletePolicy } from '../merge/metadata.js';
import type { SinkChange } from '../sink.js';
import { META, type TablePlan } from './ddl.js';
import { toPgParam } from './values.js';

/** PostgreSQL takes at most 65535 bind parameters per statement; stay well below. */
const MAX_PARAMS = 30_000;

const META_CASTS = ['bigint', 'integer', 'character(1)', 'timestamptz'] as const;

export async function applyRun(client: ClientBase, plan: TablePlan, changes: readonly SinkChange[], maxRows: number, policy: DeletePolicy = 'hard'): Promise<void> {
  const entries = [...collapse(plan, changes).values()];
  const upserts = entries.filter((e): e is Upsert => e.kind === 'upsert');
  const partial = upserts.filter((e) => e.row.includes(UNCHANGED));
  const full = upserts.filter((e) => !e.row.includes(UNCHANGED));
  const deletes = entries.filter((e): e is Delete => e.kind === 'delete');
  const byMask = new Map<string, Upsert[]>();
  for (const e of partial) {
    const mask = e.row.map((v) => (v === UNCHANGED ? '0' : '1')).join('');
    const group = byMask.get(mask);
    if (group) group.push(e);
    else byMask.set(mask, [e]);
  }
  for (const group of byMask.values()) await runChunked(client, plan, group, maxRows, partialStatement);
  await runChunked(client, plan, deletes, maxRows, policy === 'soft' ? tombstoneStatement : deleteStatement);
  await runChunked(client, plan, full, maxRows, upsertStatement);
}

/**
 * A truncate at its source position. Hard: rows written before it are
 * deleted; soft: they are marked deleted. Rows already written by later
 * changes stay either way, so a replayed truncate cannot remove them (a
 * plain TRUNCATE would).
 */
export async function applyTruncate(client: ClientBase, ident: string, policy: DeletePolicy = 'hard', at?: SinkChange): Promise<void> {
  if (at === undefined) {
    await client.query(`TRUNCATE ${ident}`);
    return;
  }
  const params = [at.position.commit.toString(), String(at.position.index)];
  const older = GUARD('t', '$1::bigint', '$2::integer');
  if (policy === 'hard') {
    await client.query(`DELETE FROM ${ident} AS t WHERE ${older}`, params);
    return;
  }
  await client.query(
    `UPDATE ${ident} AS t SET ${META.deleted} = true, ${META.op} = 't', ${META.lsn} = $1::bigint, ${META.index} = $2::integer, ` +
      `${META.commitTime} = $3::timestamptz, ${META.syncedAt} = now() WHERE ${older}`,
    [...params, toPgParam({ kind: 'timestamptz', micros: Number(at.commitTimeUs) })],
  );
}

type Build<E> = (plan: TablePlan, entries: readonly E[], params: (string | null)[]) => string;

async function runChunked<E extends Entry>(client: ClientBase, plan: TablePlan, entries: readonly E[], maxRows: number, build: Build<E>): Promise<void> {
  if (entries.length === 0) return;
  const perRow = plan.columns.length + plan.keyIndexes.length + META_CASTS.length;
  const size = Math.max(1, Math.min(maxRows, Math.floor(MAX_PARAMS / perRow)));
  for (let i = 0; i < entries.length; i += size) {
    const params: (string | null)[] = [];
    const sql = build(plan, entries.slice(i, i + size), params);
    await client.query(sql, params);
  }
}

/** `$n::cast` for each value, appended to params; the tuple text `(…)`. */
function tuple(values: readonly Value[], casts: readonly string[], params: (string | null)[]): string {
  const parts = values.map((v, i) => {
    params.push(toPgParam(v));
    return `$${params.length}::${casts[i] ?? 'text'}`;
  });
  return `(${parts.join(', ')})`;
}

function metaValues(change: SinkChange): Value[] {
  return [change.position.commit, BigInt(change.position.index), OP_CHAR[change.op], { kind: 'timestamptz', micros: Number(change.commitTimeUs) }];
}

const META_COLS = [META.lsn, META.index, META.op, META.commitTime] as const;
const GUARD = (t: string, lsn: string, index: string) => `(${t}.${META.lsn}, ${t}.${META.index}) < (${lsn}, ${index})`;

function keyCols(plan: TablePlan) {
  return plan.keyIndexes.map((i) => plan.columns[i] as TablePlan['columns'][number]);
}

const upsertStatement: Build<Upsert> = (plan, entries, params) => {
  const casts = [...plan.columns.map((c) => c.cast), ...META_CASTS];
  const rows = entries.map((e) => tuple([...e.row, ...metaValues(e.change)], casts, params));
  const keys = new Set(plan.keyIndexes);
  const sets = [...plan.columns.filter((_, i) => !keys.has(i)).map((c) => c.ident), ...META_COLS].map((c) => `${c} = EXCLUDED.${c}`).concat(nulls(plan));
  return (
    `INSERT INTO ${plan.ident} AS t (${[...plan.columns.map((c) => c.ident), ...META_COLS].join(', ')}) VALUES ${rows.join(', ')} ` +
    `ON CONFLICT (${keyCols(plan).map((c) => c.ident).join(', ')}) DO UPDATE SET ${sets.join(', ')}, ${META.syncedAt} = now()${undelete(plan)} ` +
    `WHERE ${GUARD('t', `EXCLUDED.${META.lsn}`, `EXCLUDED.${META.index}`)}`
  );
};

/** Columns the source dropped stay, NULL from the first change after the drop (merge/evolve.ts). */
const nulls = (plan: TablePlan) => plan.nulled.map((c) => `${c} = NULL`);

/** Under the soft-delete policy a row written again is no longer deleted. */
const undelete = (plan: TablePlan) => (plan.softDelete ? `, ${META.deleted} = false` : '');

/** Soft delete: the key's row becomes a tombstone at the delete's position (inserted when the key was never seen). */
const tombstoneStatement: Build<Delete> = (plan, entries, params) => {
  const keys = keyCols(plan);
  const casts = [...keys.map((c) => c.cast), ...META_CASTS];
  const rows = entries.map((e) => tuple([...e.key, ...metaValues(e.change).slice(0, 2), 'd', metaValues(e.change)[3] ?? null], casts, params));
  const metaSets = META_COLS.map((c) => `${c} = EXCLUDED.${c}`);
  return (
    `INSERT INTO ${plan.ident} AS t (${[...keys.map((c) => c.ident), ...META_COLS].join(', ')}, ${META.deleted}) ` +
    `SELECT *, true FROM (VALUES ${rows.join(', ')}) AS v ` +
    `ON CONFLICT (${keys.map((c) => c.ident).join(', ')}) DO UPDATE SET ${metaSets.join(', ')}, ${META.syncedAt} = now(), ${META.deleted} = true ` +
    `WHERE ${GUARD('t', `EXCLUDED.${META.lsn}`, `EXCLUDED.${META.index}`)}`
  );
};

const deleteStatement: Build<Delete> = (plan, entries, params) => {
  const keys = keyCols(plan);
  const casts = [...keys.map((c) => c.cast), ...META_CASTS.slice(0, 2)];
  const rows = entries.map((e) => tuple([...e.key, ...metaValues(e.change).slice(0, 2)], casts, params));
  const names = [...keys.map((_, j) => `k${j}`), 'm0', 'm1'];
  const match = keys.map((c, j) => `t.${c.ident} = v.k${j}`).join(' AND ');
  return `DELETE FROM ${plan.ident} AS t USING (VALUES ${rows.join(', ')}) AS v(${names.join(', ')}) WHERE ${match} AND ${GUARD('t', 'v.m0', 'v.m1')}`;
};

/** One statement: a data-modifying CTE updates the rows that exist; the INSERT adds the ones that did not (both see the same snapshot). */
const partialStatement: Build<Upsert> = (plan, entries, params) => {
  const first = entries[0] as Upsert;
  const sent = plan.columns.flatMap((c, i) => (first.row[i] === UNCHANGED ? [] : [{ c, i }]));
  const unsent = plan.columns.filter((_, i) => first.row[i] === UNCHANGED);
  const keys = keyCols(plan);
  const casts = [...sent.map((s) => s.c.cast), ...META_CASTS, ...keys.map((c) => c.cast)];
  const rows = entries.map((e) => {
    const values = [...sent.map((s) => e.row[s.i] ?? null), ...metaValues(e.change), ...(e.copyFrom ?? keys.map(() => null))];
    return tuple(values, casts, params);
  });
  const names = [...sent.map((_, j) => `p${j}`), 'm0', 'm1', 'm2', 'm3', ...keys.map((_, j) => `k${j}`)];
  const pOf = (colIndex: number) => `v.p${sent.findIndex((s) => s.i === colIndex)}`;
  const keySet = new Set(plan.keyIndexes);
  const sets = [
    ...sent.filter((s) => !keySet.has(s.i)).map((s) => `${s.c.ident} = ${pOf(s.i)}`),
    ...META_COLS.map((m, j) => `${m} = v.m${j}`),
    `${META.syncedAt} = now()${undelete(plan)}`,
    ...nulls(plan),
  ];
  const match = (alias: string) => plan.keyIndexes.map((i) => `${alias}.${plan.columns[i]?.ident} = ${pOf(i)}`).join(' AND ');
  const oldMatch = keys.map((c, j) => `o.${c.ident} = v.k${j}`).join(' AND ');
  return (
    `WITH v (${names.join(', ')}) AS (VALUES ${rows.join(', ')}), ` +
    `u AS (UPDATE ${plan.ident} AS t SET ${sets.join(', ')} FROM v WHERE ${match('t')} AND ${GUARD('t', 'v.m0', 'v.m1')}) ` +
    `INSERT INTO ${plan.ident} (${[...sent.map((s) => s.c.ident), ...unsent.map((c) => c.ident), ...META_COLS].join(', ')}) ` +
    `SELECT ${[...sent.map((_, j) => `v.p${j}`), ...unsent.map((c) => `o.${c.ident}`), 'v.m0', 'v.m1', 'v.m2', 'v.m3'].join(', ')} ` +
    `FROM v LEFT JOIN ${plan.ident} AS o ON ${oldMatch} ` +
    `WHERE NOT EXISTS (SELECT 1 FROM ${plan.ident} AS x WHERE ${match('x')})`
  );
};
