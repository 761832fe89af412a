/**
 * What changed between two versions of a source table's schema, in the
 * source's own types. The same classification the warehouse sinks apply
 * (hub/sinks/merge/evolve.ts): a widened type is altered in place, any other
 * type change is incompatible. A rename is not visible in the log (pgoutput
 * and the binlog's table map only name the columns), so it shows as a
 * dropped plus an added column; `renamed` lists the likely pairs (one column
 * gone and one new at the same place with the same type) as a hint only.
 */
import type { Column, TableSchema } from '../../proto/gen/tributary/v1/change_pb.js';
import { widens } from '../sinks/merge/evolve.js';

export interface ColumnView {
  readonly name: string;
  readonly type: string;
  readonly key: boolean;
}

export interface TypeChange {
  readonly column: string;
  readonly from: string;
  readonly to: string;
  readonly change: 'widened' | 'incompatible';
}

export interface SchemaDiff {
  readonly added: readonly ColumnView[];
  readonly dropped: readonly ColumnView[];
  readonly typeChanged: readonly TypeChange[];
  /** Key columns before and after, when they differ. */
  readonly keyChanged: { readonly from: readonly string[]; readonly to: readonly string[] } | null;
  readonly renamed: readonly { readonly from: string; readonly to: string }[];
}

export function columnView(c: Column): ColumnView {
  return { name: c.name, type: c.sourceType, key: c.key };
}

/** MySQL's display widths (`int(11)`) and `unsigned` spelled as the width-free type the widening rules know. */
function comparable(type: string, dialect: string): string {
  if (dialect !== 'mysql') return type;
  return type.replace(/^(tinyint|smallint|mediumint|int|bigint)\(\d+\)/i, '$1').replace(/^mediumint/i, 'integer').replace(/^int\b/i, 'integer').replace(/^tinyint/i, 'smallint');
}

/** True when the source type change keeps every value (see hub/sinks/merge/evolve.ts for the families). */
export function isWidening(from: string, to: string, dialect: string): boolean {
  const a = comparable(from, dialect);
  const b = comparable(to, dialect);
  if (dialect === 'mysql' && /unsigned/i.test(a) !== /unsigned/i.test(b)) return false;
  return widens(a.replace(/ unsigned$/i, ''), b.replace(/ unsigned$/i, '')) || (dialect === 'mysql' && /^varchar\(\d+\)$/i.test(a) && /^(tiny|medium|long)?text$/i.test(b));
}

export function diffSchemas(prev: TableSchema | undefined, next: TableSchema): SchemaDiff {
  const before = new Map((prev?.columns ?? []).map((c, i) => [c.name, { c, i }]));
  const after = new Map(next.columns.map((c, i) => [c.name, { c, i }]));
  const added = next.columns.filter((c) => !before.has(c.name)).map(columnView);
  const dropped = (prev?.columns ?? []).filter((c) => !after.has(c.name)).map(columnView);
  const typeChanged: TypeChange[] = [];
  for (const c of next.columns) {
    const old = before.get(c.name)?.c;
    if (old === undefined || old.sourceType === c.sourceType) continue;
    typeChanged.push({ column: c.name, from: old.sourceType, to: c.sourceType, change: isWidening(old.sourceType, c.sourceType, next.sourceDialect) ? 'widened' : 'incompatible' });
  }
  const keysOf = (s: TableSchema | undefined) => (s?.columns ?? []).filter((c) => c.key).map((c) => c.name);
  const fromKey = keysOf(prev);
  const toKey = keysOf(next);
  const keyChanged = prev !== undefined && JSON.stringify(fromKey) !== JSON.stringify(toKey) ? { from: fromKey, to: toKey } : null;
  const renamed = dropped.flatMap((d) => {
    const at = before.get(d.name)?.i;
    const a = added.find((x) => after.get(x.name)?.i === at && x.type === d.type);
    return a === undefined ? [] : [{ from: d.name, to: a.name }];
  });
  return { added, dropped, typeChanged, keyChanged, renamed };
}

/** One line for people: "added c (integer); dropped d; qty integer → text (incompatible)". */
export function describeDiff(d: SchemaDiff): string {
  const parts = [
    ...d.added.map((c) => `added ${c.name} (${c.type})`),
    ...d.dropped.map((c) => `dropped ${c.name}`),
    ...d.typeChanged.map((t) => `${t.column} ${t.from} → ${t.to} (${t.change})`),
    ...(d.keyChanged === null ? [] : [`key (${d.keyChanged.from.join(', ')}) → (${d.keyChanged.to.join(', ')})`]),
  ];
  return parts.length === 0 ? 'no column changes' : parts.join('; ');
}
