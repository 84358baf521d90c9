// chart.js — the trend chart: min/avg/max band of one tag (or the session
// total) over a window of 1 min … 24 h, read from the daemon's rollups, with
// the budget as a dashed line, appended live from the WebSocket stream.
//
// uPlot (npm "uplot", copied to web/vendor/ by web/web.mk) draws it: a
// canvas chart of a few dozen KiB that redraws 240 points in well under a
// millisecond.

import uPlot from './vendor/uPlot.esm.js';
import { fmtBytes, fmtBytesShort, fmtClock, niceTicks } from './format.js';

export const WINDOWS = [
  { label: '1 min', ms: 60e3 },
  { label: '5 min', ms: 5 * 60e3 },
  { label: '15 min', ms: 15 * 60e3 },
  { label: '1 h', ms: 3600e3 },
  { label: '6 h', ms: 6 * 3600e3 },
  { label: '24 h', ms: 24 * 3600e3 },
];
export const POINTS = 240;

const C = {
  axis: '#cbd5e1',
  grid: 'rgba(148,163,184,0.18)',
  avg: '#60a5fa',
  band: 'rgba(96,165,250,0.22)',
  edge: 'rgba(96,165,250,0.55)',
  budget: '#f87171',
};

// The time axis and the bytes axis of a chart over a window of windowMs()
// (the trend chart, and the call-site chart of where.js).
export function timeBytesAxes(windowMs) {
  return [
    {
      stroke: C.axis,
      grid: { stroke: C.grid, width: 1 },
      ticks: { stroke: C.grid },
      // 24-hour clock; seconds only where the window is short.
      values: (u, splits) => splits.map((v) => (windowMs() <= 15 * 60e3 ? fmtClock(v * 1000) : fmtClock(v * 1000).slice(0, 5))),
    },
    {
      stroke: C.axis,
      grid: { stroke: C.grid, width: 1 },
      ticks: { stroke: C.grid },
      size: 70,
      // Round numbers of the unit shown (uPlot's own steps are decimal
      // bytes: 586 KiB, 1.91 MiB).
      splits: (u, axis, lo, hi) => niceTicks(Math.max(0, lo), hi),
      values: (u, splits) => splits.map((v) => fmtBytesShort(v)),
    },
  ];
}

export class TrendChart {
  constructor(host) {
    this.host = host;
    this.windowMs = WINDOWS[0].ms;
    this.stepMs = this.windowMs / POINTS;
    this.budget = 0;
    this.reset();
    this.plot = null;
    this.dirty = false;
    this.build();
    this.resizeObs = new ResizeObserver(() => this.resize());
    this.resizeObs.observe(host);
  }

  reset() {
    // Columns: x (s), min, avg, max, budget. Empty points are null.
    this.xs = [];
    this.mins = [];
    this.avgs = [];
    this.maxs = [];
    this.buds = [];
    this.counts = []; // samples merged into a live point
    this.sums = [];
  }

  build() {
    const bytes = (u, v) => (v === null || v === undefined ? '—' : fmtBytes(v));
    const opts = {
      width: Math.max(200, this.host.clientWidth),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max((hi || 0) * 1.1, this.budget * 1.08, 1024)] } },
      axes: timeBytesAxes(() => this.windowMs),
      series: [
        { label: 'time', value: (u, v) => (v ? fmtClock(v * 1000) : '—') },
        { label: 'min', stroke: C.edge, width: 1, value: bytes },
        { label: 'avg', stroke: C.avg, width: 2, value: bytes },
        { label: 'max', stroke: C.edge, width: 1, value: bytes },
        { label: 'budget', stroke: C.budget, width: 1.5, dash: [6, 4], value: bytes, points: { show: false } },
      ],
      bands: [{ series: [3, 1], fill: C.band }],
    };
    this.plot = new uPlot(opts, this.data(), this.host);
  }

  data() {
    return [this.xs, this.mins, this.avgs, this.maxs, this.buds];
  }

  resize() {
    if (!this.plot) return;
    const w = Math.max(200, Math.floor(this.host.clientWidth));
    if (w !== this.plot.width) this.plot.setSize({ width: w, height: 220 });
  }

  // Loads a trend answer (series of {t_ms, min, avg, max, frames}).
  load(trend, windowMs, budget) {
    this.reset();
    this.windowMs = windowMs;
    this.stepMs = Number(trend.step_ms) || windowMs / POINTS;
    this.fromMs = Number(trend.from_ms) || Date.now() - windowMs;
    this.budget = budget || 0;
    // The daemon omits empty buckets: put them back as nulls, so the line
    // breaks where the game sent nothing instead of bridging the gap.
    const series = [];
    const byT = new Map((trend.series || []).map((p) => [Number(p.t_ms), p]));
    const from = Number(trend.from_ms);
    const n = Number(trend.points) || 0;
    if (Number.isFinite(from) && n > 0 && n <= 4000) {
      for (let i = 0; i < n; i++) {
        const t = from + i * this.stepMs;
        series.push(byT.get(t) || { t_ms: t, frames: 0 });
        byT.delete(t);
      }
      for (const p of byT.values()) series.push(p); // off-grid points, if any
      series.sort((a, b) => Number(a.t_ms) - Number(b.t_ms));
    } else series.push(...(trend.series || []));
    for (const p of series) {
      const empty = Number(p.frames) === 0;
      this.xs.push(Number(p.t_ms) / 1000);
      this.mins.push(empty ? null : Number(p.min));
      this.avgs.push(empty ? null : Number(p.avg));
      this.maxs.push(empty ? null : Number(p.max));
      this.buds.push(this.budget > 0 ? this.budget : null);
      this.counts.push(empty ? 0 : Number(p.frames));
      this.sums.push(empty ? 0 : Number(p.avg) * Number(p.frames));
    }
    this.dirty = true;
  }

  // A live sample at tMs: merged into the point of its bucket, or a new
  // point; points older than the window fall off the left.
  append(tMs, value, budget) {
    if (budget !== undefined) this.budget = budget || 0;
    const step = this.stepMs;
    const bucket = (this.fromMs || tMs) + Math.floor((tMs - (this.fromMs || tMs)) / step) * step;
    const x = bucket / 1000;
    let i = this.xs.length - 1;
    // Trailing empty buckets from the query are reused.
    while (i >= 0 && this.xs[i] > x) i--;
    if (i >= 0 && this.xs[i] === x) {
      const n = this.counts[i];
      this.mins[i] = n ? Math.min(this.mins[i], value) : value;
      this.maxs[i] = n ? Math.max(this.maxs[i], value) : value;
      this.sums[i] = (n ? this.sums[i] : 0) + value;
      this.counts[i] = n + 1;
      this.avgs[i] = this.sums[i] / this.counts[i];
      this.buds[i] = this.budget > 0 ? this.budget : null;
    } else if (i === this.xs.length - 1) {
      this.xs.push(x);
      this.mins.push(value);
      this.avgs.push(value);
      this.maxs.push(value);
      this.buds.push(this.budget > 0 ? this.budget : null);
      this.counts.push(1);
      this.sums.push(value);
    } else return; // a sample older than the chart's buckets: ignore
    const cut = (tMs - this.windowMs) / 1000;
    let drop = 0;
    while (drop < this.xs.length - 1 && this.xs[drop] < cut) drop++;
    if (drop > 0) for (const a of [this.xs, this.mins, this.avgs, this.maxs, this.buds, this.counts, this.sums]) a.splice(0, drop);
    this.dirty = true;
  }

  // Points that hold data (the tests read it).
  pointsWithData() {
    return this.avgs.filter((v) => v !== null).length;
  }

  render() {
    if (!this.dirty || !this.plot) return;
    this.dirty = false;
    const now = Date.now() / 1000;
    this.plot.setData(this.data());
    const last = this.xs.length ? this.xs[this.xs.length - 1] : now;
    const right = Math.max(now, last + this.stepMs / 1000);
    this.plot.setScale('x', { min: right - this.windowMs / 1000, max: right });
    // Without the pointer over the chart, the legend shows the newest point.
    if (!(this.plot.cursor.left >= 0)) {
      let i = this.avgs.length - 1;
      while (i >= 0 && this.avgs[i] === null) i--;
      if (i >= 0) this.plot.setLegend({ idx: i });
    }
  }
}
