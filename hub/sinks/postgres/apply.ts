/**
 * Applies one run of changes (consecutive changes of one table version) inside
 * the caller's transaction. Every write is guarded by the source position
 * (commit, index in tx) so a replayed or older change never moves a row back.
 *
 * A run is first collapsed per primary key, latest change winning, so each key
 * appears once per statement (ON CONFLICT DO UPDATE refuses to touch a row
 * twice). The statements then run in this order, which the key-change case
 * relies on:
 *   1. rows with UNCHANGED (TOAST) values: update only the sent columns; if the
 *      row is missing, insert it, copying unsent columns from the old key's row
 *      when the update moved the key (the old row is still there: step 2 has
 *      not run yet);
 *   2. deletes (including old keys of key changes);
 *   3. full rows: multi-row INSERT ... ON CONFLICT DO UPDATE.
 */
import type { ClientBase } from 'pg';
import { UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';
import type { SinkChange } from '../sink.js';
import { META, type TablePlan } from './ddl.js';
import { toPgParam } from './values.js';

/** PostgreSQL takes at most 65535 bind parameters per statement; stay well below. */
const MAX_PARAMS = 30_000;

interface Upsert {
  readonly kind: 'upsert';
  readonly row: readonly Value[];
  /** Old key whose stored row supplies values still UNCHANGED after a key change; null otherwise. */
  readonly copyFrom: readonly Value[] | null;
  readonly change: SinkChange;
}
interface Delete {
  readonly kind: 'delete';
  readonly key: readonly Value[];
  readonly change: SinkChange;
}
type Entry = Upsert | Delete;

const OP_CHAR = { insert: 'c', update: 'u', read: 'r', delete: 'd', truncate: 't' } as const;
const META_CASTS = ['bigint', 'integer', 'character(1)', 'timestamptz'] as const;

export async function applyRun(client: ClientBase, plan: TablePlan, changes: readonly SinkChange[], maxRows: number): Promise<void> {
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
  await runChunked(client, plan, deletes, maxRows, deleteStatement);
  await runChunked(client, plan, full, maxRows, upsertStatement);
}

export async function applyTruncate(client: ClientBase, ident: string): Promise<void> {
  await client.query(`TRUNCATE ${ident}`);
}

/** Latest change per primary key; an update's UNCHANGED values are filled from an earlier change of the same row in the run. */
function collapse(plan: TablePlan, changes: readonly SinkChange[]): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  for (const change of changes) {
    if (change.op === 'delete') {
      const key = deleteKey(plan, change);
      entries.set(keyId(key), { kind: 'delete', key, change });
      continue;
    }
    if (change.op === 'truncate') throw new RangeError('truncate inside a run');
    const after = change.after;
    if (after === null || after.length !== plan.columns.length) {
      throw new RangeError(`${change.op} on ${plan.source} carries ${after?.length ?? 0} values for ${plan.columns.length} columns`);
    }
    const row = withKey(plan, change, after);
    const newId = keyId(plan.keyIndexes.map((i) => row[i] ?? null));
    const oldKey = change.op === 'update' ? previousKey(plan, change) : null;
    const moved = oldKey !== null && keyId(oldKey) !== newId;
    const earlier = entries.get(moved ? keyId(oldKey) : newId);
    const carry = earlier?.kind === 'upsert' ? earlier : undefined;
    if (moved) entries.set(keyId(oldKey), { kind: 'delete', key: oldKey, change });
    const merged = carry ? row.map((v, i) => (v === UNCHANGED ? (carry.row[i] ?? UNCHANGED) : v)) : row;
    const copyFrom = merged.includes(UNCHANGED) ? (carry?.copyFrom ?? (moved ? oldKey : null)) : null;
    entries.set(newId, { kind: 'upsert', row: merged, copyFrom, change });
  }
  return entries;
}

/** The after-image with its key columns filled from `change.key` where the image lacks them. */
function withKey(plan: TablePlan, change: SinkChange, after: readonly Value[]): Value[] {
  const row = [...after];
  plan.keyIndexes.forEach((col, j) => {
    if (row[col] !== UNCHANGED) return;
    const v = change.key[j];
    if (v === undefined || v === UNCHANGED) throw new RangeError(`${change.op} on ${plan.source} has no value for key column ${plan.columns[col]?.name}`);
    row[col] = v;
  });
  return row;
}

/** The key before an update: from the before-image (full row or key columns only), else `change.key` when it differs. */
function previousKey(plan: TablePlan, change: SinkChange): readonly Value[] | null {
  const before = change.before;
  if (before !== null && before.length === plan.columns.length) return plan.keyIndexes.map((i) => before[i] ?? null);
  if (before !== null && before.length === plan.keyIndexes.length) return before;
  return change.key.length === plan.keyIndexes.length ? change.key : null;
}

function deleteKey(plan: TablePlan, change: SinkChange): readonly Value[] {
  if (change.key.length === plan.keyIndexes.length) return change.key;
  const before = change.before;
  if (before !== null && before.length === plan.columns.length) return plan.keyIndexes.map((i) => before[i] ?? null);
  if (before !== null && before.length === plan.keyIndexes.length) return before;
  throw new RangeError(`delete on ${plan.source} carries no key`);
}

function keyId(key: readonly Value[]): string {
  return JSON.stringify(key.map(toPgParam));
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
  const sets = [...plan.columns.filter((_, i) => !keys.has(i)).map((c) => c.ident), ...META_COLS].map((c) => `${c} = EXCLUDED.${c}`);
  return (
    `INSERT INTO ${plan.ident} AS t (${[...plan.columns.map((c) => c.ident), ...META_COLS].join(', ')}) VALUES ${rows.join(', ')} ` +
    `ON CONFLICT (${keyCols(plan).map((c) => c.ident).join(', ')}) DO UPDATE SET ${sets.join(', ')}, ${META.syncedAt} = now() ` +
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
    `${META.syncedAt} = now()`,
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
