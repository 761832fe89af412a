// @ts-check
/**
 * Pipelines with their sinks: applied events, throughput and lag, and two
 * live charts per pipeline fed by the samples of every poll.
 */
import { get, listOf, post } from '../api.js';
import { badge, h, table } from '../dom.js';
import { lineChart } from '../chart.js';
import { ago, count, duration, rate, size, text } from '../format.js';
import { SampleSeries } from '../samples.js';
import { actionButton, failed } from './context.js';

/** Samples per pipeline and sink, kept across polls while the page is open. */
const series = new Map();

/**
 * @param {string} pipeline
 * @param {string} sink
 * @returns {SampleSeries}
 */
function seriesOf(pipeline, sink) {
  const key = JSON.stringify([pipeline, sink]);
  let s = series.get(key);
  if (s === undefined) {
    s = new SampleSeries(60);
    series.set(key, s);
  }
  return s;
}

/** @param {any} sink */
function appliedCounter(sink) {
  if (typeof sink.eventsApplied === 'number') return { value: sink.eventsApplied, unit: 'events' };
  if (typeof sink.offset === 'number') return { value: sink.offset, unit: 'batches' };
  return { value: null, unit: 'events' };
}

/** @param {any} p */
function stateBadge(p) {
  const state = typeof p.state === 'string' ? p.state : p.paused === true ? 'paused' : null;
  if (state === 'paused') return badge('warning', 'paused');
  if (state !== null && state !== 'running' && state !== 'active') return badge('info', text(state, 30));
  return p.connected ? badge('ok', 'streaming') : badge('critical', 'agent disconnected');
}

/**
 * @param {any} p
 * @param {import('./context.js').ViewContext} ctx
 */
function pipelinePanel(p, ctx) {
  const name = String(p.name);
  const sinks = Array.isArray(p.sinks) ? p.sinks : [];
  const rows = sinks.map((/** @type {any} */ sk) => {
    const sinkName = String(typeof sk === 'string' ? sk : sk.name);
    const sink = typeof sk === 'string' ? { name: sk } : sk;
    const applied = appliedCounter(sink);
    const samples = seriesOf(name, sinkName);
    samples.add({ t: ctx.now, lagSeconds: typeof sink.lagSeconds === 'number' ? sink.lagSeconds : null, counter: applied.value });
    return [
      sinkName,
      sink.failing ? badge('critical', 'failing') : badge('ok', 'ok'),
      h('span', { 'data-testid': `applied-${name}-${sinkName}` }, `${count(applied.value)} ${applied.unit}`),
      rate(samples.latestRate(), applied.unit),
      duration(sink.lagSeconds),
      typeof sink.lagBytes === 'number' ? size(sink.lagBytes) : count(sink.lagBatches),
      ago(sink.lastAppliedAt, ctx.now),
      sink.lastError ? h('code', { class: 'error' }, text(sink.lastError, 300)) : '',
    ];
  });
  const lagSeries = sinks.map((/** @type {any} */ sk) => {
    const sinkName = String(typeof sk === 'string' ? sk : sk.name);
    return { label: sinkName, points: seriesOf(name, sinkName).points().map((pt) => ({ t: pt.t, v: pt.lagSeconds })) };
  });
  const unit = sinks.length > 0 ? appliedCounter(typeof sinks[0] === 'string' ? {} : sinks[0]).unit : 'events';
  const rateSeries = sinks.map((/** @type {any} */ sk) => {
    const sinkName = String(typeof sk === 'string' ? sk : sk.name);
    return { label: sinkName, points: seriesOf(name, sinkName).points().map((pt) => ({ t: pt.t, v: pt.perSecond })) };
  });
  const tables = Array.isArray(p.tables) ? p.tables.map((/** @type {unknown} */ t) => text(t, 80)) : null;
  const pushed = p.agentTables && typeof p.agentTables === 'object' ? p.agentTables : null;
  const paused = p.state === 'paused' || p.paused === true;
  const path = `/v1/pipelines/${encodeURIComponent(name)}`;
  return h(
    'section',
    { class: 'panel', 'data-testid': `pipeline-${name}` },
    h('div', { class: 'row' }, h('h2', {}, name), stateBadge(p),
      typeof p.lagSeconds === 'number' ? h('span', { class: 'muted' }, `lag ${duration(p.lagSeconds)}`) : null,
      h('span', { class: 'spacer' }),
      paused
        ? actionButton('Resume', () => post(`${path}/resume`), ctx, `pipeline ${name} resumed`, { 'data-testid': `resume-${name}` })
        : actionButton('Pause', () => post(`${path}/pause`), ctx, `pipeline ${name} paused`, { 'data-testid': `pause-${name}` })),
    h('p', { class: 'muted' }, `agent ${text(p.agent)} · source ${text(p.source)}`, ` · tables ${tables === null ? "as the agent's configuration says" : tables.join(', ')}`,
      pushed ? h('span', { 'data-testid': `agent-tables-${name}` }, ' · on the agent: ', badge(pushed.status === 'applied' ? 'ok' : pushed.status === 'failed' ? 'critical' : 'info', text(pushed.status, 20))) : '',
      p.ingest && typeof p.ingest === 'object' ? ` · ingested ${count(p.ingest.ackedSequence)} batches, source position ${text(p.ingest.sourcePosition)}` : ''),
    sinks.length === 0
      ? h('p', { class: 'muted' }, 'No sinks.')
      : table(['Sink', 'Status', 'Applied', 'Throughput', 'Lag', 'Behind', 'Last applied', 'Last error'], rows, [null, null, 'num', 'num', 'num', 'num', null, null]),
    h('div', { class: 'charts' },
      lineChart('Lag (seconds)', lagSeries, (v) => `${v} s`, `lag-chart-${name}`),
      lineChart(`Throughput (${unit}/s)`, rateSeries, (v) => count(v), `throughput-chart-${name}`)),
  );
}

/** @type {import('./context.js').View} */
export const pipelinesView = {
  title: 'Pipelines',
  live: true,
  async render(ctx) {
    const r = await get('/v1/pipelines');
    if (!r.ok) return failed(r, 'Pipelines', 'GET /v1/pipelines');
    const pipelines = listOf(r.data, 'pipelines');
    return h(
      'div',
      { 'data-testid': 'pipelines' },
      h('div', { class: 'row' }, h('h1', {}, 'Pipelines'), h('span', { class: 'spacer' }), h('a', { href: '#/new-pipeline' }, 'New pipeline')),
      pipelines.length === 0 ? h('div', { class: 'panel' }, h('p', { class: 'muted' }, 'No pipelines yet.')) : null,
      ...pipelines.map((p) => pipelinePanel(p, ctx)),
    );
  },
};
