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
  if (c && typeof c === 'object') return `${text(c.name, 60)} ${text(c.type ?? c.typeName, 40)}`;
  return text(c);
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
    text(v.sincePosition ?? v.since, 40),
    ago(v.firstSeenAt ?? v.seenAt, ctx.now),
    Array.isArray(v.columns) ? v.columns.map(columnText).join(', ') : '–',
    Array.isArray(v.key) ? v.key.map((/** @type {unknown} */ k) => text(k, 60)).join(', ') : text(v.key),
    v.diff === undefined || v.diff === null ? '' : h('code', {}, text(v.diff, 400)),
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
    const tables = listOf(r.data, 'schemas').concat(listOf(r.data, 'tables'));
    if (tables.length === 0) return h('div', { class: 'panel', 'data-testid': 'schemas' }, h('h1', {}, 'Schema changes'), h('p', { class: 'muted' }, 'No table schema has been seen yet.'));
    const rows = tables.map((t) => {
      const key = historyPath(t);
      return [
        `${text(t.agent)}/${text(t.source)}`,
        `${text(t.schema)}.${text(t.table)}`,
        count(t.version ?? t.latestVersion),
        count(t.versions ?? t.versionCount),
        ago(t.changedAt ?? t.firstSeenAt ?? t.seenAt, ctx.now),
        h('button', { type: 'button', onclick: () => { open = open === key ? null : key; ctx.refresh(); } }, open === key ? 'Hide history' : 'History'),
      ];
    });
    const selected = tables.find((t) => historyPath(t) === open);
    return h('div', { 'data-testid': 'schemas' },
      h('div', { class: 'panel' }, h('h1', {}, 'Schema changes'), table(['Source', 'Table', 'Version', 'Versions', 'Last change', ''], rows, [null, null, 'num', 'num', null, null])),
      selected === undefined ? null : await history(selected, ctx));
  },
};
