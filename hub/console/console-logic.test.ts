/**
 * The console's pure browser modules (formatting, samples, chart geometry),
 * loaded as the browser loads them: plain JavaScript modules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

interface Format {
  count(n: unknown): string;
  size(n: unknown): string;
  duration(n: unknown): string;
  ago(iso: unknown, now: number): string;
  rate(n: unknown, unit: string): string;
  text(v: unknown, max?: number): string;
}
interface Point {
  t: number;
  lagSeconds: number | null;
  perSecond: number | null;
}
interface Samples {
  add(s: { t: number; lagSeconds: number | null; counter: number | null }): void;
  points(): Point[];
  latestRate(): number | null;
}
interface Geometry {
  niceMax(max: number, min?: number): number;
  linePath(points: { t: number; v: number | null }[], box: { x: number; y: number; width: number; height: number }, t0: number, t1: number, yMax: number): string;
}

// The modules are browser JavaScript without type declarations: typed here by what the tests use.
const load = async <T>(name: string): Promise<T> => (await import(new URL(`./js/${name}`, import.meta.url).href)) as T;
const format = await load<Format>('format.js');
const { SampleSeries } = await load<{ SampleSeries: new (capacity?: number) => Samples }>('samples.js');
const geometry = await load<Geometry>('chart-geometry.js');

describe('console formatting', () => {
  it('formats counts, sizes, durations and rates, and dashes for what is not a number', () => {
    assert.equal(format.count(1234567), '1,234,567');
    assert.equal(format.count(undefined), '–');
    assert.equal(format.size(512), '512 B');
    assert.equal(format.size(1536), '1.5 KiB');
    assert.equal(format.size(1 << 30), '1.0 GiB');
    assert.equal(format.size(-1), '–');
    assert.equal(format.duration(0.42), '0.4 s');
    assert.equal(format.duration(42), '42 s');
    assert.equal(format.duration(185), '3 min 5 s');
    assert.equal(format.duration(7800), '2 h 10 min');
    assert.equal(format.duration(Number.NaN), '–');
    assert.equal(format.rate(12.34, 'events'), '12.3 events/s');
    assert.equal(format.rate(1234.5, 'events'), '1,235 events/s');
    assert.equal(format.ago('2024-05-01T10:00:00.000Z', Date.parse('2024-05-01T10:00:05.000Z')), '5.0 s ago');
    assert.equal(format.ago('not a time', 0), '–');
  });

  it('shows any API value as bounded text', () => {
    assert.equal(format.text(null), '–');
    assert.equal(format.text({ a: 1 }), '{"a":1}');
    assert.equal(format.text('x'.repeat(300), 10), `${'x'.repeat(9)}…`);
  });
});

describe('console samples', () => {
  it('derives throughput from counter growth between polls and keeps a bounded window', () => {
    const s = new SampleSeries(3);
    s.add({ t: 1000, lagSeconds: 1, counter: 0 });
    s.add({ t: 3000, lagSeconds: 0.5, counter: 100 });
    s.add({ t: 3000, lagSeconds: 9, counter: 999 }); // same poll time: ignored
    s.add({ t: 4000, lagSeconds: 0.2, counter: 400 });
    assert.deepEqual(s.points().map((p) => p.perSecond), [null, 50, 300]);
    assert.equal(s.latestRate(), 300);
    s.add({ t: 5000, lagSeconds: 0, counter: 10 }); // hub restarted: its counter began again
    assert.deepEqual(s.points().map((p) => p.t), [3000, 4000, 5000]);
    assert.equal(s.latestRate(), 0);
  });

  it('has no rate without two counted samples', () => {
    const s = new SampleSeries();
    assert.equal(s.latestRate(), null);
    s.add({ t: 1, lagSeconds: null, counter: null });
    s.add({ t: 2, lagSeconds: null, counter: 5 });
    assert.equal(s.latestRate(), null);
  });
});

describe('console chart geometry', () => {
  it('rounds the axis up to 1, 2 or 5 times a power of ten', () => {
    assert.equal(geometry.niceMax(0), 1);
    assert.equal(geometry.niceMax(3), 5);
    assert.equal(geometry.niceMax(17), 20);
    assert.equal(geometry.niceMax(101), 200);
    assert.equal(geometry.niceMax(0.3, 0.1), 0.5);
  });

  it('draws a line across the box and breaks it at gaps', () => {
    const box = { x: 10, y: 0, width: 100, height: 50 };
    const d = geometry.linePath([{ t: 0, v: 0 }, { t: 50, v: 10 }, { t: 75, v: null }, { t: 100, v: 5 }], box, 0, 100, 10);
    assert.equal(d, 'M10.0,50.0L60.0,0.0M110.0,25.0');
    // values outside the axis are clamped to the box
    assert.equal(geometry.linePath([{ t: 0, v: -5 }, { t: 100, v: 99 }], box, 0, 100, 10), 'M10.0,50.0L110.0,0.0');
  });
});
