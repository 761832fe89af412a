// @ts-check
/**
 * Rolling samples of a pipeline's sinks, one per poll, for the live charts:
 * lag in seconds as reported, and throughput derived from the growth of a
 * monotonic counter (events applied, or the log offset when the hub reports
 * no event count) between two polls.
 */

/** @typedef {{ t: number, lagSeconds: number | null, counter: number | null }} Sample */
/** @typedef {{ t: number, lagSeconds: number | null, perSecond: number | null }} Point */

export class SampleSeries {
  /** @param {number} [capacity] samples kept (one per poll) */
  constructor(capacity = 60) {
    this.capacity = capacity;
    /** @type {Sample[]} */
    this.samples = [];
  }

  /** @param {Sample} sample */
  add(sample) {
    const last = this.samples[this.samples.length - 1];
    if (last !== undefined && sample.t <= last.t) return;
    this.samples.push(sample);
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  /** @returns {Point[]} */
  points() {
    return this.samples.map((s, i) => {
      const prev = i > 0 ? this.samples[i - 1] : undefined;
      let perSecond = null;
      if (prev !== undefined && s.counter !== null && prev.counter !== null && s.t > prev.t) {
        // A restarted hub starts its counters at zero again: no negative throughput.
        perSecond = Math.max(0, s.counter - prev.counter) / ((s.t - prev.t) / 1000);
      }
      return { t: s.t, lagSeconds: s.lagSeconds, perSecond };
    });
  }

  /** @returns {number | null} throughput between the last two samples */
  latestRate() {
    const p = this.points();
    return p.length === 0 ? null : (p[p.length - 1]?.perSecond ?? null);
  }
}
