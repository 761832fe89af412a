// @ts-check
/** Snapshot progress per table: state, rows done of the estimate, and the controls of a running one. */
import { get, listOf, post } from '../api.js';
import { badge, h, table } from '../dom.js';
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

/** @type {import('./context.js').View} */
export const snapshotsView = {
  title: 'Snapshots',
  live: true,
  async render(ctx) {
    const r = await get('/v1/snapshots');
    if (!r.ok) return failed(r, 'Snapshots', 'GET /v1/snapshots');
    const snaps = listOf(r.data, 'snapshots');
    if (snaps.length === 0) return h('div', { class: 'panel', 'data-testid': 'snapshots' }, h('h1', {}, 'Snapshots'), h('p', { class: 'muted' }, 'No snapshot has run yet.'));
    const rows = snaps.map((sn) => {
      const done = typeof sn.rowsDone === 'number' ? sn.rowsDone : 0;
      const est = typeof sn.rowsEstimate === 'number' && sn.rowsEstimate > 0 ? sn.rowsEstimate : null;
      const bar = est === null ? h('progress', {}) : h('progress', { max: est, value: Math.min(done, est) });
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
    return h('div', { class: 'panel', 'data-testid': 'snapshots' }, h('h1', {}, 'Snapshots'),
      table(['Source', 'Table', 'State', 'Rows', 'Chunks', 'ETA', 'Updated', 'Error', ''], rows, [null, null, null, null, 'num', 'num', null, null, null]));
  },
};
