// @ts-check
/** Number, size and time formatting for the console; pure, so node's test runner checks it. */

/**
 * @param {unknown} n
 * @returns {string}
 */
export function count(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

/**
 * @param {unknown} bytes
 * @returns {string}
 */
export function size(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/**
 * A duration in seconds, short: "0.4 s", "12 s", "3 min 5 s", "2 h 10 min".
 * @param {unknown} seconds
 * @returns {string}
 */
export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds - m * 60)} s`;
  const hrs = Math.floor(m / 60);
  return `${hrs} h ${m - hrs * 60} min`;
}

/**
 * "5 s ago" for an ISO time, against `now` (ms).
 * @param {unknown} iso
 * @param {number} now
 * @returns {string}
 */
export function ago(iso, now) {
  if (typeof iso !== 'string') return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '–';
  return `${duration(Math.max(0, (now - t) / 1000))} ago`;
}

/**
 * A rate per second.
 * @param {unknown} perSecond
 * @param {string} unit
 * @returns {string}
 */
export function rate(perSecond, unit) {
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond)) return '–';
  return `${perSecond >= 100 ? Math.round(perSecond).toLocaleString('en-US') : perSecond.toFixed(1)} ${unit}/s`;
}

/**
 * Any API value as display text (objects as compact JSON), cut to `max` characters.
 * @param {unknown} v
 * @param {number} [max]
 * @returns {string}
 */
export function text(v, max = 200) {
  const s = v === null || v === undefined ? '–' : typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
