// @ts-check
/** Agents: every source stream the hub has seen, its connection, spool and source lag. */
import { get, listOf } from '../api.js';
import { badge, h, table } from '../dom.js';
import { ago, count, size, text } from '../format.js';
import { failed } from './context.js';

/** @type {import('./context.js').View} */
export const agentsView = {
  title: 'Agents',
  live: true,
  async render(ctx) {
    const r = await get('/v1/agents');
    if (!r.ok) return failed(r, 'Agents', 'GET /v1/agents');
    const agents = listOf(r.data, 'agents');
    if (agents.length === 0) return h('div', { class: 'panel' }, h('h1', {}, 'Agents'), h('p', { class: 'muted' }, 'No agent has connected yet.'));
    const rows = agents.map((a) => {
      const spool = a.spool && typeof a.spool === 'object' ? a.spool : null;
      const pos = a.sourcePosition && typeof a.sourcePosition === 'object' ? a.sourcePosition : null;
      return [
        text(a.agentId),
        text(a.sourceId),
        text(a.sourceKind),
        text(a.version),
        a.connected ? badge('ok', 'connected') : badge('critical', 'disconnected'),
        ago(a.lastSeen, ctx.now),
        spool ? `${size(spool.bytes)} of ${size(spool.limitBytes)}` : '–',
        spool?.backPressure ? badge('warning', 'back-pressure') : '',
        pos ? size(pos.lagBytes) : '–',
        count(a.ackedSequence),
      ];
    });
    return h(
      'div',
      { class: 'panel', 'data-testid': 'agents' },
      h('h1', {}, 'Agents'),
      table(['Agent', 'Source', 'Kind', 'Version', 'Status', 'Last seen', 'Spool', '', 'Source lag', 'Acked batches'], rows, [null, null, null, null, null, null, 'num', null, 'num', 'num']),
    );
  },
};
