// @ts-check
/** Scales and SVG path data for the console's line charts; pure (no DOM). */

/** @typedef {{ x: number, y: number, width: number, height: number }} Box */

/**
 * A "nice" upper bound for the y axis: 1, 2 or 5 times a power of ten, at least `min`.
 * @param {number} max
 * @param {number} [min]
 */
export function niceMax(max, min = 1) {
  const m = Math.max(max, min);
  const p = 10 ** Math.floor(Math.log10(m));
  for (const f of [1, 2, 5, 10]) if (f * p >= m) return f * p;
  return 10 * p;
}

/**
 * Path data for one series; gaps (null values) break the line.
 * @param {{ t: number, v: number | null }[]} points
 * @param {Box} box
 * @param {number} t0 time at the left edge (ms)
 * @param {number} t1 time at the right edge (ms)
 * @param {number} yMax value at the top edge
 */
export function linePath(points, box, t0, t1, yMax) {
  const span = Math.max(1, t1 - t0);
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.v === null || !Number.isFinite(p.v)) {
      pen = false;
      continue;
    }
    const x = box.x + ((p.t - t0) / span) * box.width;
    const y = box.y + box.height - (Math.min(Math.max(p.v, 0), yMax) / yMax) * box.height;
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  }
  return d;
}
