/**
 * Table-level DDL that the row events cannot show: a dropped or renamed
 * table. The rows themselves need nothing (a renamed table's next TABLE_MAP
 * names it anew; a dropped table sends no more rows), but people should
 * hear of it: the agent reports it as an event (`table.dropped`,
 * `table.renamed`), which the hub publishes as `agent.table.dropped` /
 * `agent.table.renamed`. Only the plain statement forms are recognised; a
 * statement not understood is reported by nothing but its schema change.
 */
const NAME = String.raw`(?:\`((?:[^\`]|\`\`)+)\`|(\w+))`;
const QUALIFIED = String.raw`${NAME}(?:\s*\.\s*${NAME})?`;
const DROP = new RegExp(String.raw`^DROP\s+(?:TEMPORARY\s+)?TABLES?\s+(?:IF\s+EXISTS\s+)?(.+?)(?:\s+(?:RESTRICT|CASCADE))?\s*$`, 'is');
const RENAME = new RegExp(String.raw`^RENAME\s+TABLES?\s+(.+)$`, 'is');
const ALTER_RENAME = new RegExp(String.raw`^ALTER\s+TABLE\s+(${QUALIFIED})\s+RENAME\s+(?:TO\s+|AS\s+)?(${QUALIFIED})\s*$`, 'is');
const ONE = new RegExp(String.raw`^\s*${QUALIFIED}\s*$`, 's');

export type DdlNotice = { readonly kind: 'table.dropped'; readonly tables: string[] } | { readonly kind: 'table.renamed'; readonly renames: { from: string; to: string }[] };

/** `db.table` for a (possibly qualified, possibly quoted) name, or null when it is not a plain name. */
function qualify(text: string, defaultDb: string): string | null {
  const m = ONE.exec(text);
  if (m === null) return null;
  const first = (m[1]?.replace(/``/g, '`') ?? m[2]) as string;
  const second = m[3]?.replace(/``/g, '`') ?? m[4];
  return second === undefined ? `${defaultDb}.${first}` : `${first}.${second}`;
}

/** Splits on commas outside backquotes. */
function split(list: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of list) {
    if (ch === '`') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  return [...out, cur];
}

export function ddlNotice(query: string, defaultDb: string): DdlNotice | null {
  const q = query.trim().replace(/\/\*.*?\*\//gs, ' ').trim();
  const d = DROP.exec(q);
  if (d !== null) {
    const tables = split(d[1] as string).map((t) => qualify(t, defaultDb));
    return tables.every((t) => t !== null) ? { kind: 'table.dropped', tables: tables as string[] } : null;
  }
  const r = RENAME.exec(q);
  if (r !== null) {
    const renames = split(r[1] as string).map((pair) => {
      const [from = '', to = ''] = pair.split(/\s+TO\s+/i);
      const a = qualify(from, defaultDb);
      const b = qualify(to, defaultDb);
      return a === null || b === null ? null : { from: a, to: b };
    });
    return renames.every((x) => x !== null) ? { kind: 'table.renamed', renames: renames as { from: string; to: string }[] } : null;
  }
  const a = ALTER_RENAME.exec(q);
  if (a !== null) {
    const from = qualify(a[1] as string, defaultDb);
    const to = qualify(a[6] as string, defaultDb);
    return from === null || to === null ? null : { kind: 'table.renamed', renames: [{ from, to }] };
  }
  return null;
}
