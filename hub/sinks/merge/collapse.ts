/**
 * Latest change per primary key within one run (changes of one table
 * version): the heart of the micro-batch merge. Each key then appears once, so
 * one MERGE / upsert statement can apply the whole run, and the source
 * position of the winning change guards the destination row across batches.
 *
 * A key change (an update whose old key differs) becomes a delete of the old
 * key plus an upsert of the new one. An update's UNCHANGED (TOAST) values are
 * filled from an earlier change of the same row in the run; those still
 * UNCHANGED keep the stored destination value.
 */
import { UNCHANGED, type Value } from '../../../proto/tributary/v1/row-codec.js';
import type { SinkChange } from '../sink.js';

/** What collapse needs to know about a destination table. */
export interface KeyedTable {
  /** `schema.table` at the source, for messages. */
  readonly source: string;
  readonly columns: readonly { readonly name: string }[];
  /** Positions of the key columns in `columns`, in key order. */
  readonly keyIndexes: readonly number[];
}

export interface Upsert {
  readonly kind: 'upsert';
  readonly row: readonly Value[];
  /** Old key whose stored row supplies values still UNCHANGED after a key change; null otherwise. */
  readonly copyFrom: readonly Value[] | null;
  readonly change: SinkChange;
}
export interface Delete {
  readonly kind: 'delete';
  readonly key: readonly Value[];
  readonly change: SinkChange;
}
export type Entry = Upsert | Delete;

/** Entries in first-seen key order; throws RangeError for a change that cannot be applied by key. */
export function collapse(plan: KeyedTable, changes: readonly SinkChange[]): Map<string, Entry> {
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
function withKey(plan: KeyedTable, change: SinkChange, after: readonly Value[]): Value[] {
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
function previousKey(plan: KeyedTable, change: SinkChange): readonly Value[] | null {
  const before = change.before;
  if (before !== null && before.length === plan.columns.length) return plan.keyIndexes.map((i) => before[i] ?? null);
  if (before !== null && before.length === plan.keyIndexes.length) return before;
  return change.key.length === plan.keyIndexes.length ? change.key : null;
}

function deleteKey(plan: KeyedTable, change: SinkChange): readonly Value[] {
  if (change.key.length === plan.keyIndexes.length) return change.key;
  const before = change.before;
  if (before !== null && before.length === plan.columns.length) return plan.keyIndexes.map((i) => before[i] ?? null);
  if (before !== null && before.length === plan.keyIndexes.length) return before;
  throw new RangeError(`delete on ${plan.source} carries no key`);
}

/** A canonical text for a key (values of one key column always share a type, so this is injective per table). */
export function keyId(key: readonly Value[]): string {
  return JSON.stringify(key.map(canonical));
}

function canonical(v: Value): unknown {
  if (v === UNCHANGED) throw new RangeError('a key value is unchanged (TOAST)');
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return Object.is(v, -0) || !Number.isFinite(v) ? String(v) : v;
  if (v instanceof Uint8Array) return `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (v !== null && typeof v === 'object' && 'micros' in v) return { ...v, micros: String(v.micros) };
  if (v !== null && typeof v === 'object' && v.kind === 'array') return { ...v, items: v.items.map(canonical) };
  return v;
}
