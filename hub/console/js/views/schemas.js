// @ts-check
/** Schema changes: every captured table's current version, and its history on demand. */
import { get, listOf } from '../api.js';
import { h, table } from '../dom.js';
import { ago, count, text } from '../format.js';
import { failed } from './context.js';

/** The table whose history is open (kept across polls). */
let open = /** @type {string | null} */ (null);

/** @param {any} t */
function historyPath(t) {
  return `/v1/schemas/${[t.agent, t.source, t.schema, t.table].map((x) => encodeURIComponent(String(x))).join('/')}`;
}

/** @param {any} c */
function columnText(c) {
  if (typeof c === 'string') return c;
  if (c && typeof c === 'object') return `${text(c.name, 60)} ${text(c.type, 40)}${c.key ? ' (key)' : ''}`;
  return text(c);
}

/**
 * A version's change against the previous one, one line per change.
 * @param {any} diff
 * @returns {string[]}
 */
export function diffLines(diff) {
  if (!diff || typeof diff !== 'object') return [];
  /** @param {unknown} v */
  const list = (v) => (Array.isArray(v) ? v : []);
  return [
    ...list(diff.added).map((c) => `+ ${columnText(c)}`),
    ...list(diff.dropped).map((c) => `− ${text(c.name ?? c, 60)}`),
    ...list(diff.typeChanged).map((c) => `~ ${text(c.column, 60)}: ${text(c.from, 40)} → ${text(c.to, 40)}${c.change ? ` (${text(c.change, 20)})` : ''}`),
    ...list(diff.renamed).map((c) => `renamed ${text(c.from, 60)} → ${text(c.to, 60)}`),
    ...(diff.keyChanged ? [`key ${list(diff.keyChanged.from).join(', ')} → ${list(diff.keyChanged.to).join(', ')}`] : []),
  ];
}

/**
 * @param {any} t
 * @param {import('./context.js').ViewContext} ctx
 */
async function history(t, ctx) {
  const r = await get(historyPath(t));
  if (!r.ok) return failed(r, 'Schema history', `GET ${historyPath(t)}`);
  const versions = listOf(r.data, 'versions');
  const rows = versions.map((v) => [
    count(v.version),
    text(v.sincePosition, 40),
    ago(v.firstSeenAt, ctx.now),
    Array.isArray(v.columns) ? v.columns.map(columnText).join(', ') : '–',
    Array.isArray(v.key) ? v.key.map((/** @type {unknown} */ k) => text(k, 60)).join(', ') : text(v.key),
    h('span', {}, ...diffLines(v.diff).map((line) => h('div', {}, h('code', {}, line)))),
  ]);
  return h('div', { class: 'panel', 'data-testid': 'schema-history' }, h('h2', {}, `History of ${text(t.schema)}.${text(t.table)}`), table(['Version', 'Since', 'Seen', 'Columns', 'Key', 'Change'], rows));
}

/** @type {import('./context.js').View} */
export const schemasView = {
  title: 'Schema changes',
  live: true,
  async render(ctx) {
    const r = await get('/v1/schemas');
    if (!r.ok) return failed(r, 'Schema changes', 'GET /v1/schemas');
    const tables = listOf(r.data, 'tables');
    if (tables.length === 0) return h('div', { class: 'panel', 'data-testid': 'schemas' }, h('h1', {}, 'Schema changes'), h('p', { class: 'muted' }, 'No table schema has been seen yet.'));
    const rows = tables.map((t) => {
      const key = historyPath(t);
      return [
        `${text(t.agent)}/${text(t.source)}`,
        `${text(t.schema)}.${text(t.table)}`,
        count(t.version),
        count(t.versions),
        ago(t.changedAt ?? t.firstSeenAt, ctx.now),
        h('button', { type: 'button', onclick: () => { open = open === key ? null : key; ctx.refresh(); } }, open === key ? 'Hide history' : 'History'),
      ];
    });
    const selected = tables.find((t) => historyPath(t) === open);
    return h('div', { 'data-testid': 'schemas' },
      h('div', { class: 'panel' }, h('h1', {}, 'Schema changes'), table(['Source', 'Table', 'Version', 'Versions', 'Last change', ''], rows, [null, null, 'num', 'num', null, null])),
      selected === undefined ? null : await history(selected, ctx));
  },
};
