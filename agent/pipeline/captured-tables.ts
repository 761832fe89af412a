/**
 * The set of tables a source captures, changeable while it runs: first the
 * configuration's `source.tables` (empty = every table), then whatever the
 * hub pushes with `pipeline.apply` (an empty list then means no table). The
 * source asks `accepts` for every change; the newest set wins at once.
 */
export type TableSet = { readonly all: true } | { readonly all: false; readonly patterns: readonly string[] };

export class CapturedTables {
  private set: TableSet;
  private version = 0;

  constructor(initial: TableSet) {
    this.set = initial;
  }

  /** The configuration's list: empty means every table. */
  static fromConfig(tables: readonly string[]): CapturedTables {
    return new CapturedTables(tables.length === 0 ? { all: true } : { all: false, patterns: [...tables] });
  }

  get current(): TableSet {
    return this.set;
  }

  /** Increments on every change, so a source can tell its session started with an older set. */
  get generation(): number {
    return this.version;
  }

  replace(patterns: readonly string[]): void {
    this.set = { all: false, patterns: [...new Set(patterns)].sort() };
    this.version++;
  }

  accepts(schema: string, table: string): boolean {
    const s = this.set;
    return s.all || s.patterns.some((p) => p === `${schema}.${table}` || p === `${schema}.*`);
  }

  /** Patterns of `next` that the current set does not name (newly included tables or schemas). */
  added(next: readonly string[]): string[] {
    const s = this.set;
    if (s.all) return [];
    return next.filter((p) => !s.patterns.includes(p));
  }
}
