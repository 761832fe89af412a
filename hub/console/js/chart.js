// @ts-check
/** A small SVG line chart: one line per series over the last minutes of polls. */
import { h, s } from './dom.js';
import { linePath, niceMax } from './chart-geometry.js';

const W = 360;
const H = 140;
const BOX = { x: 44, y: 8, width: W - 52, height: H - 30 };

/**
 * @param {string} title
 * @param {{ label: string, points: { t: number, v: number | null }[] }[]} series
 * @param {(v: number) => string} formatY
 * @param {string} testId
 */
export function lineChart(title, series, formatY, testId) {
  const all = series.flatMap((x) => x.points);
  const now = all.length > 0 ? Math.max(...all.map((p) => p.t)) : Date.now();
  const t0 = Math.min(now - 60_000, ...all.map((p) => p.t));
  const values = all.map((p) => p.v).filter((v) => v !== null && Number.isFinite(v));
  // A little headroom, so a line at the maximum does not run along the top edge.
  const yMax = niceMax(values.length > 0 ? Math.max(.../** @type {number[]} */ (values)) * 1.05 : 0, 1);
  const svg = s(
    'svg',
    { class: 'chart-svg', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title },
    s('line', { class: 'axis', x1: BOX.x, y1: BOX.y + BOX.height, x2: BOX.x + BOX.width, y2: BOX.y + BOX.height }),
    s('line', { class: 'axis', x1: BOX.x, y1: BOX.y, x2: BOX.x, y2: BOX.y + BOX.height }),
    s('text', { class: 'grid-label', x: BOX.x - 4, y: BOX.y + 8, 'text-anchor': 'end' }, formatY(yMax)),
    s('text', { class: 'grid-label', x: BOX.x - 4, y: BOX.y + BOX.height, 'text-anchor': 'end' }, formatY(0)),
    s('text', { class: 'grid-label', x: BOX.x, y: H - 6 }, `${Math.round((now - t0) / 1000)} s ago`),
    s('text', { class: 'grid-label', x: BOX.x + BOX.width, y: H - 6, 'text-anchor': 'end' }, 'now'),
    ...series.map((x, i) => s('path', { class: `line s${i % 4}`, d: linePath(x.points, BOX, t0, now, yMax) })),
  );
  return h(
    'div',
    { class: 'chart', 'data-testid': testId },
    h('div', { class: 'title' }, title),
    svg,
    h('div', { class: 'legend' }, ...series.map((x, i) => h('span', { class: `s${i % 4}` }, `● ${x.label}`))),
  );
}
