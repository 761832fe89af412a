// @ts-check
/** Snapshot progress per table: state, rows done of the estimate, and the controls of a running one. */
import { get, listOf, post } from '../api.js';
import { badge, h, replace, table } from '../dom.js';
import { ago, count, duration, text } from '../format.js';
import { actionButton, failed } from './context.js';

const STATE_BADGE = /** @type {Record<string, string>} */ ({ done: 'ok', running: 'info', pending: 'info', paused: 'warning', failed: 'critical', cancelled: 'warning' });

/**
 * @param {any} snap
 * @param {import('./context.js').ViewContext} ctx
 */
function controls(snap, ctx) {
  // The source key (agent/source) is one path segment, its "/" escaped.
  const base = `/v1/snapshots/${encodeURIComponent(String(snap.source))}/${encodeURIComponent(String(snap.table))}`;
  const out = [];
  if (snap.state === 'running' || snap.state === 'pending') out.push(actionButton('Pause', () => post(`${base}/pause`), ctx, `snapshot of ${snap.table} paused`));
  if (snap.state === 'paused') out.push(actionButton('Resume', () => post(`${base}/resume`), ctx, `snapshot of ${snap.table} resumed`));
  if (snap.state === 'running' || snap.state === 'pending' || snap.state === 'paused') out.push(actionButton('Cancel', () => post(`${base}/cancel`), ctx, `snapshot of ${snap.table} cancelled`));
  return h('span', { class: 'row' }, ...out);
}

/**
 * "Snapshot a table": kept across polls (the same nodes), so what is typed survives a refresh.
 * @type {{ form: HTMLFormElement, pipeline: HTMLSelectElement, names: string } | null}
 */
let starter = null;
/** The context of the newest render, for the form's handler. */
let latest = /** @type {import('./context.js').ViewContext | null} */ (null);

/** @param {string[]} pipelines names */
function startForm(pipelines) {
  if (starter === null) {
    const pipeline = h('select', { id: 'snap-pipeline', name: 'pipeline' });
    const table = h('input', { type: 'text', id: 'snap-table', name: 'table', placeholder: 'public.orders', autocomplete: 'off' });
    const button = h('button', { type: 'submit' }, 'Start snapshot');
    const form = h('form', {
      class: 'row',
      'data-testid': 'snapshot-start',
      onsubmit: (e) => {
        e.preventDefault();
        const name = pipeline.value;
        const target = table.value.trim();
        button.disabled = true;
        void post(`/v1/pipelines/${encodeURIComponent(name)}/snapshots`, { table: target }).then((r) => {
          button.disabled = false;
          if (r.ok) table.value = '';
          latest?.flash(r.ok ? `snapshot of ${target} requested from pipeline ${name}'s agent` : `Start snapshot failed: ${r.code}: ${r.message}`, r.ok ? 'info' : 'error');
          latest?.refresh();
        });
      },
    }, h('label', { for: 'snap-pipeline' }, 'Pipeline'), pipeline, h('label', { for: 'snap-table' }, 'Table'), table, button);
    starter = { form, pipeline, names: '' };
  }
  const names = JSON.stringify(pipelines);
  if (starter.names !== names) {
    const chosen = starter.pipeline.value;
    replace(starter.pipeline, ...pipelines.map((n) => h('option', { value: n, selected: n === chosen }, n)));
    starter.names = names;
  }
  return starter.form;
}

/** @type {import('./context.js').View} */
export const snapshotsView = {
  title: 'Snapshots',
  live: true,
  async render(ctx) {
    latest = ctx;
    const r = await get('/v1/snapshots');
    if (!r.ok) return failed(r, 'Snapshots', 'GET /v1/snapshots');
    const snaps = listOf(r.data, 'snapshots');
    const p = await get('/v1/pipelines');
    const pipelines = p.ok ? listOf(p.data, 'pipelines').map((x) => String(x.name)) : [];
    const start = pipelines.length > 0 ? h('div', { class: 'panel' }, h('h2', {}, 'Snapshot a table'), startForm(pipelines)) : null;
    if (snaps.length === 0) return h('div', { 'data-testid': 'snapshots' }, h('div', { class: 'panel' }, h('h1', {}, 'Snapshots'), h('p', { class: 'muted' }, 'No snapshot has run yet.')), start);
    const rows = snaps.map((sn) => {
      const done = typeof sn.rowsDone === 'number' ? sn.rowsDone : 0;
      const est = typeof sn.rowsEstimate === 'number' && sn.rowsEstimate > 0 ? sn.rowsEstimate : null;
      // No estimate: an indeterminate bar while it runs, a full one once done.
      const bar = sn.state === 'done' ? h('progress', { max: 1, value: 1 }) : est === null ? h('progress', {}) : h('progress', { max: est, value: Math.min(done, est) });
      const state = text(sn.state, 20);
      return [
        text(sn.source),
        text(sn.table),
        badge(STATE_BADGE[state] ?? 'info', state),
        h('span', {}, bar, ` ${count(done)}${est === null ? '' : ` of ~${count(est)}`}`),
        count(sn.chunksDone),
        typeof sn.etaSeconds === 'number' ? duration(sn.etaSeconds) : '–',
        ago(sn.updatedAt, ctx.now),
        sn.error ? h('code', { class: 'error' }, text(sn.error, 300)) : '',
        controls(sn, ctx),
      ];
    });
    return h('div', { 'data-testid': 'snapshots' },
      h('div', { class: 'panel' }, h('h1', {}, 'Snapshots'),
        table(['Source', 'Table', 'State', 'Rows', 'Chunks', 'ETA', 'Updated', 'Error', ''], rows, [null, null, null, null, 'num', 'num', null, null, null])),
      start);
  },
};
