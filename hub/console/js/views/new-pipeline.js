// @ts-check
/**
 * Creating a pipeline: a name, an agent's source, the sinks to land in and the
 * tables to capture (names or `schema.*` patterns). The hub validates; its
 * error names the field, which the form marks.
 */
import { get, listOf, post } from '../api.js';
import { h } from '../dom.js';
import { text } from '../format.js';
import { failed } from './context.js';

/**
 * Table names typed in the box, separated by commas, spaces or lines.
 * @param {string} raw
 */
function nameList(raw) {
  return raw.split(/[\s,]+/).map((t) => t.trim()).filter((t) => t !== '');
}

/**
 * A labelled control with its hint, the hint tied to the control for screen readers.
 * @param {string} label
 * @param {HTMLElement} control  with an id
 * @param {import('../dom.js').Child} [hint]
 */
function field(label, control, hint) {
  const hintId = `${control.id}-hint`;
  if (hint) control.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hint ? h('span', { class: 'hint', id: hintId }, hint) : null);
}

/** @type {import('./context.js').View} */
export const newPipelineView = {
  title: 'New pipeline',
  live: false,
  async render(ctx) {
    const agents = await get('/v1/agents');
    if (!agents.ok) return failed(agents, 'New pipeline', 'GET /v1/agents');
    const sources = listOf(agents.data, 'agents').map((a) => ({ agent: String(a.agentId), source: String(a.sourceId), connected: a.connected === true }));
    const sinkList = await get('/v1/sinks');
    if (!sinkList.ok) return failed(sinkList, 'New pipeline', 'GET /v1/sinks');
    const sinks = listOf(sinkList.data, 'sinks').map((s) => String(s.name));
    const name = h('input', { type: 'text', id: 'pl-name', name: 'name', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9][A-Za-z0-9_.\\-]{0,62}' });
    const source = h('select', { id: 'pl-source', name: 'source' },
      ...sources.map((s, i) => h('option', { value: String(i) }, `${s.agent} / ${s.source}${s.connected ? '' : ' (disconnected)'}`)));
    const tables = h('textarea', { id: 'pl-tables', name: 'tables', rows: 3, placeholder: 'public.orders\nbilling.*' });
    const sinkBoxes = sinks.map((s) => h('label', { class: 'row' }, h('input', { type: 'checkbox', name: 'sinks', value: s, 'data-testid': `sink-${s}` }), s));
    const message = h('p', { role: 'alert', 'data-testid': 'form-message' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Create pipeline');
    const sinkSet = h('fieldset', {}, h('legend', {}, 'Sinks'),
      ...(sinkBoxes.length > 0 ? sinkBoxes : [h('span', { class: 'hint error' }, 'This workspace has no sinks: add one to the hub configuration.')]));
    const fields = /** @type {Record<string, HTMLElement>} */ ({ name, source, agent: source, tables, sinks: sinkSet });
    const form = h('form', {
      class: 'stack',
      novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        const chosen = sources[Number(source.value)];
        if (chosen === undefined) {
          message.textContent = 'No agent has connected yet: start an agent, then create its pipeline.';
          message.className = 'error';
          return;
        }
        const captured = nameList(tables.value);
        /** @type {Record<string, unknown> & { name: string }} */
        const body = {
          name: name.value.trim(),
          agent: chosen.agent,
          source: chosen.source,
          sinks: sinkBoxes.map((l) => l.querySelector('input')).filter((i) => i !== null && i.checked).map((i) => /** @type {HTMLInputElement} */ (i).value),
        };
        // No tables named: the agent's own configuration decides (the API's `tables: null`).
        if (captured.length > 0) body.tables = captured;
        submit.disabled = true;
        for (const el of Object.values(fields)) el.removeAttribute('aria-invalid');
        message.textContent = 'Creating…';
        message.className = 'muted';
        void post('/v1/pipelines', body).then((r) => {
          submit.disabled = false;
          if (r.ok) {
            ctx.flash(`pipeline ${body.name} created`);
            ctx.navigate('#/pipelines');
            return;
          }
          message.className = 'error';
          message.textContent = r.unavailable ? 'Creating pipelines is not available on this hub (POST /v1/pipelines).' : `${r.code}: ${text(r.message, 400)}`;
          const bad = r.ok ? undefined : r.field === undefined ? undefined : fields[r.field.split(/[.[]/)[0] ?? ''];
          if (bad !== undefined) {
            bad.setAttribute('aria-invalid', 'true');
            bad.focus();
          }
        });
      },
    },
    field('Name', name, 'letters, digits, "_", "-", "."'),
    field('Agent and source', source, sources.length === 0 ? 'No agent has connected yet.' : null),
    sinkSet,
    field('Tables', tables, 'one per line: schema.table or schema.* (empty: the tables the agent is configured with)'),
    h('div', { class: 'row' }, submit),
    message);
    return h('div', { class: 'panel', 'data-testid': 'new-pipeline' }, h('h1', {}, 'New pipeline'), form);
  },
};
