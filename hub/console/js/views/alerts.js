// @ts-check
/** The alert feed: open, acknowledged and resolved alerts, each open one with an Acknowledge button. */
import { get, listOf, post } from '../api.js';
import { badge, h, table } from '../dom.js';
import { ago, text } from '../format.js';
import { actionButton, failed } from './context.js';

/** @param {any} a */
function subject(a) {
  return [a.source, a.sink, a.table].filter((x) => typeof x === 'string' && x !== '').join(' · ') || '–';
}

const STATES = ['open', 'acknowledged', 'resolved'];
/** The state shown (null: every state), kept across polls. */
let shown = /** @type {string | null} */ (null);

/** @param {import('./context.js').ViewContext} ctx */
function filters(ctx) {
  return h('div', { class: 'row', role: 'group', 'aria-label': 'Show alerts' },
    ...[null, ...STATES].map((st) => h('button', {
      type: 'button',
      'aria-pressed': String(shown === st),
      onclick: () => {
        shown = st;
        ctx.refresh();
      },
    }, st === null ? 'All' : `${st[0]?.toUpperCase()}${st.slice(1)}`)));
}

/** @type {import('./context.js').View} */
export const alertsView = {
  title: 'Alerts',
  live: true,
  async render(ctx) {
    const r = await get(shown === null ? '/v1/alerts' : `/v1/alerts?state=${encodeURIComponent(shown)}`);
    if (!r.ok) return failed(r, 'Alerts', 'GET /v1/alerts');
    const alerts = listOf(r.data, 'alerts');
    const heading = h('div', { class: 'row' }, h('h1', {}, 'Alerts'), h('span', { class: 'spacer' }), filters(ctx));
    if (alerts.length === 0) return h('div', { class: 'panel', 'data-testid': 'alerts' }, heading, h('p', { class: 'muted' }, shown === null ? 'No alerts.' : `No ${shown} alerts.`));
    const rows = alerts.map((a) => {
      const id = String(a.id);
      const state = text(a.state, 20);
      return [
        badge(text(a.severity, 20), text(a.severity, 20)),
        h('span', { 'data-testid': `alert-state-${id}` }, badge(state === 'open' ? 'critical' : state === 'acknowledged' ? 'warning' : 'ok', state)),
        text(a.rule ?? a.kind, 60),
        subject(a),
        h('span', {}, a.title ? h('strong', {}, text(a.title, 200), ' ') : null, text(a.message, 400)),
        ago(a.openedAt ?? a.at, ctx.now),
        state === 'open'
          ? actionButton('Acknowledge', () => post(`/v1/alerts/${encodeURIComponent(id)}/ack`), ctx, 'alert acknowledged', { 'data-testid': `ack-${id}` })
          : state === 'resolved' ? `resolved ${ago(a.resolvedAt, ctx.now)}` : `acknowledged ${ago(a.acknowledgedAt, ctx.now)}`,
      ];
    });
    return h('div', { class: 'panel', 'data-testid': 'alerts' }, heading, table(['Severity', 'State', 'Rule', 'Where', 'Message', 'Opened', ''], rows));
  },
};
