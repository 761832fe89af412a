/**
 * Schema evolution, planned the same way for every warehouse sink: given the
 * data columns a destination table has (with the type each was created or
 * last altered to, from the sink's column ledger) and the columns one source
 * table version wants (in destination types), decide the DDL and where each
 * source column lands.
 *
 * Policy (README, "Schema drift"):
 * - a new column is added;
 * - a column the version lacks is kept and written NULL by every later
 *   change (dropped instead when the sink is configured with `dropColumns`);
 * - a widened type (smallint → integer → bigint, varchar(n) → varchar(m ≥ n)
 *   or text, numeric(p,s) → numeric(q ≥ p, s), real → double) is altered in
 *   place;
 * - any other type change lands in a new column named `<column>__<type>`
 *   (see divertedName), the old column keeps its values.
 *
 * A version older than the newest one the table has seen (a replay after a
 * crash) never narrows, alters or drops anything: its columns land where a
 * wider or equal type already holds them, so replays cannot undo evolution.
 */

export interface LedgerColumn {
  readonly name: string;
  /** Destination type text exactly as the sink wrote it in DDL. */
  readonly type: string;
}

export interface WantedColumn {
  /** Destination column name (after the dialect's case rule). */
  readonly name: string;
  readonly type: string;
}

export type ColumnChange =
  | { readonly kind: 'add'; readonly name: string; readonly type: string }
  | { readonly kind: 'alter'; readonly name: string; readonly from: string; readonly to: string }
  | { readonly kind: 'drop'; readonly name: string };

export interface Incompatible {
  readonly column: string;
  readonly from: string;
  readonly to: string;
  /** The new column that holds the values from now on. */
  readonly target: string;
}

export interface Evolution {
  readonly changes: readonly ColumnChange[];
  /** Destination column (name and type) per wanted column, same order; null: not written (see EvolveOptions.skipMissing). */
  readonly targets: readonly (LedgerColumn | null)[];
  /** Data columns no wanted column writes, kept: written NULL by every change applied with this version. */
  readonly nulled: readonly string[];
  readonly incompatible: readonly Incompatible[];
}

export interface EvolveOptions {
  /** The version is older than the newest one applied to the table (replay): add only, never alter or drop. */
  readonly older: boolean;
  /** Drop columns the source dropped instead of keeping them. */
  readonly dropColumns: boolean;
  /** Folds a name the way the destination compares names (DuckDB: lower case). */
  readonly fold?: (name: string) => string;
  /**
   * For an older version: a column the table no longer has (a newer version
   * dropped it under dropColumns) is not written (target null) instead of
   * being added back. Sinks that evolve every version of a batch before
   * applying any of its rows need this; the others re-add and drop again.
   */
  readonly skipMissing?: boolean;
}

export function planEvolution(existing: readonly LedgerColumn[], wanted: readonly WantedColumn[], o: EvolveOptions): Evolution {
  const fold = o.fold ?? ((n: string) => n);
  const have = new Map(existing.map((c) => [fold(c.name), c]));
  const changes: ColumnChange[] = [];
  const incompatible: Incompatible[] = [];
  const used = new Set<string>();
  /** Columns whose values moved to a `<column>__<type>` column: kept for their history, even under dropColumns. */
  const divertedFrom = new Set<string>();
  const targets = wanted.map((w): LedgerColumn | null => {
    const cur = have.get(fold(w.name));
    if (cur === undefined && o.older && o.skipMissing === true) return null;
    if (cur === undefined) {
      changes.push({ kind: 'add', name: w.name, type: w.type });
      have.set(fold(w.name), w);
      used.add(fold(w.name));
      return w;
    }
    if (holds(cur.type, w.type)) {
      used.add(fold(w.name));
      return cur;
    }
    if (!o.older && widens(cur.type, w.type)) {
      changes.push({ kind: 'alter', name: w.name, from: cur.type, to: w.type });
      have.set(fold(w.name), w);
      used.add(fold(w.name));
      return w;
    }
    // Incompatible: a column named after the new type, or one of them that already holds it.
    divertedFrom.add(fold(w.name));
    const name = divertedName(w.name, w.type);
    const div = have.get(fold(name));
    used.add(fold(name));
    if (div === undefined && o.older && o.skipMissing === true) return null;
    if (div === undefined) {
      changes.push({ kind: 'add', name, type: w.type });
      have.set(fold(name), { name, type: w.type });
      if (!o.older) incompatible.push({ column: w.name, from: cur.type, to: w.type, target: name });
      return { name, type: w.type };
    }
    return div;
  });
  const nulled: string[] = [];
  for (const c of existing) {
    if (used.has(fold(c.name))) continue;
    // The old column of an incompatible change keeps its history even under dropColumns.
    if (o.dropColumns && !o.older && !divertedFrom.has(fold(c.name)) && !isDiverted(c.name)) changes.push({ kind: 'drop', name: c.name });
    else nulled.push(c.name);
  }
  return { changes, targets, nulled, incompatible };
}

/**
 * The column an incompatible type change lands in: `<column>__<type>`, the
 * type in lower case with every run of other characters than letters and
 * digits as one `_` (`qty` → text: `qty__text`; `QTY` → VARCHAR: `QTY__VARCHAR`
 * keeps the column's case; `code` → `character varying(20)`:
 * `code__character_varying_20`).
 */
export function divertedName(column: string, type: string): string {
  const slug = type.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return `${column}__${column === column.toUpperCase() && /[A-Z]/.test(column) ? slug.toUpperCase() : slug.toLowerCase()}`;
}

function isDiverted(name: string): boolean {
  return /__[A-Za-z0-9_]+$/.test(name);
}

const norm = (t: string): string => t.trim().replace(/\s+/g, ' ').toUpperCase();

const INT_RANK: Readonly<Record<string, number>> = { SMALLINT: 1, INT2: 1, INTEGER: 2, INT: 2, INT4: 2, BIGINT: 3, INT8: 3 };
const INT_DIGITS = [0, 5, 10, 19];
const NUM = /^(NUMERIC|DECIMAL|NUMBER)\((\d+)(?:, ?(\d+))?\)$/;
const VARCHAR = /^(CHARACTER VARYING|VARCHAR)(?:\((\d+)\))?$/;
const FLOAT_RANK: Readonly<Record<string, number>> = { REAL: 1, FLOAT4: 1, FLOAT: 1, 'DOUBLE PRECISION': 2, DOUBLE: 2, FLOAT8: 2 };

/** A column of type `dest` holds every value of type `src` unchanged (same type, or wider). */
export function holds(dest: string, src: string): boolean {
  return norm(dest) === norm(src) || widens(src, dest);
}

/**
 * `to` holds every value of `from`, and the destination converts a column in
 * place (ALTER … TYPE) without loss. Only the families below; anything else
 * (int → text, text → int, timestamp → timestamptz, …) is incompatible.
 */
export function widens(fromType: string, toType: string): boolean {
  const from = norm(fromType);
  const to = norm(toType);
  if (from === to) return false;
  const fi = INT_RANK[from];
  const ti = INT_RANK[to];
  if (fi !== undefined && ti !== undefined) return ti > fi;
  const tn = NUM.exec(to);
  if (fi !== undefined && tn !== null) return Number(tn[3] ?? 0) === 0 && Number(tn[2]) >= (INT_DIGITS[fi] ?? 99);
  const fn = NUM.exec(from);
  if (fn !== null && tn !== null) return fn[1] === tn[1] && Number(tn[3] ?? 0) === Number(fn[3] ?? 0) && Number(tn[2]) > Number(fn[2]);
  if (fn !== null && to === 'NUMERIC') return true;
  const fv = VARCHAR.exec(from);
  if (fv !== null) {
    if (to === 'TEXT') return true;
    const tv = VARCHAR.exec(to);
    return tv !== null && fv[1] === tv[1] && (tv[2] === undefined || (fv[2] !== undefined && Number(tv[2]) > Number(fv[2])));
  }
  const ff = FLOAT_RANK[from];
  const tf = FLOAT_RANK[to];
  return ff !== undefined && tf !== undefined && tf > ff;
}
