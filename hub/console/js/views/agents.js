// @ts-check
/** Agents: every source stream the hub has seen, its connection, spool and source lag; the doctor's findings on demand. */
import { get, listOf } from '../api.js';
import { badge, h, table } from '../dom.js';
import { ago, count, size, text } from '../format.js';
import { failed } from './context.js';

/** The agent whose source checks are open (kept across polls). */
let open = /** @type {string | null} */ (null);

/**
 * The doctor's latest findings for each source of an agent.
 * @param {string} agent
 * @param {import('./context.js').ViewContext} ctx
 */
async function doctor(agent, ctx) {
  const path = `/v1/agents/${encodeURIComponent(agent)}/doctor`;
  const r = await get(path);
  if (!r.ok) return failed(r, 'Source checks', `GET ${path}`);
  const sources = listOf(r.data, 'sources');
  return h('div', { class: 'panel', 'data-testid': 'doctor' }, h('h2', {}, `Source checks of ${agent}`),
    sources.length === 0 ? h('p', { class: 'muted' }, 'The agent has not reported any check yet.') : null,
    ...sources.map((src) => h('div', {},
      h('p', { class: 'row' }, h('strong', {}, text(src.source, 80)), badge(text(src.status, 20), text(src.status, 20)), h('span', { class: 'muted' }, `checked ${ago(src.checkedAt, ctx.now)}`)),
      table(['Check', 'Severity', 'Finding', 'Fix'], listOf(src.findings, 'findings').map((f) => [
        text(f.check, 80),
        badge(text(f.severity, 20), text(f.severity, 20)),
        text(f.message, 1000),
        f.fix ? h('code', {}, text(f.fix, 1000)) : '',
      ])))));
}

/** @type {import('./context.js').View} */
export const agentsView = {
  title: 'Agents',
  live: true,
  async render(ctx) {
    const r = await get('/v1/agents');
    if (!r.ok) return failed(r, 'Agents', 'GET /v1/agents');
    const agents = listOf(r.data, 'agents');
    if (agents.length === 0) return h('div', { class: 'panel', 'data-testid': 'agents' }, h('h1', {}, 'Agents'), h('p', { class: 'muted' }, 'No agent has connected yet.'));
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
        h('button', { type: 'button', onclick: () => { open = open === a.agentId ? null : String(a.agentId); ctx.refresh(); } }, open === a.agentId ? 'Hide checks' : 'Source checks'),
      ];
    });
    const chosen = agents.some((a) => a.agentId === open) && open !== null ? await doctor(open, ctx) : null;
    return h(
      'div',
      { 'data-testid': 'agents' },
      h('div', { class: 'panel' }, h('h1', {}, 'Agents'),
        table(['Agent', 'Source', 'Kind', 'Version', 'Status', 'Last seen', 'Spool', '', 'Source lag', 'Acked batches', ''], rows, [null, null, null, null, null, null, 'num', null, 'num', 'num', null])),
      chosen,
    );
  },
};
