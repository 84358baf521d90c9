// compare.js — the compare view: two sessions side by side. Their trends
// for one tag are overlaid (time since each session's first frame, so runs
// started at different times line up), and the diff of GET /api/v1/compare
// (fa-cli compare's, computed by the daemon with the same code) is a table
// sorted by growth with the regressions marked in words as well as colour.
//
// Self-contained: app.js only mounts it (mountCompare) on the section of
// index.html. It reads the API itself; every name from the daemon (session
// apps, tag paths, call sites) goes into the page as text, never as HTML.

import uPlot from './vendor/uPlot.esm.js';
import { api } from './api.js';
import { el, fmtBytes, fmtBytesShort, fmtDateTime, niceTicks, setText, tagName } from './format.js';

const POINTS = 120;
const C = { axis: '#cbd5e1', grid: 'rgba(148,163,184,0.18)', base: '#a3b1c9', candidate: '#fbbf24' };

// The figures the table shows, in compare's order of importance.
const METRICS = [
  ['p95', 'p95 live'],
  ['p50', 'p50 live'],
  ['p99', 'p99 live'],
  ['peak', 'Peak'],
  ['frame_bytes_per_frame', 'Frame B/frame'],
  ['allocs_per_frame', 'Allocs/frame'],
];

function sessionLabel(s) {
  const when = s.started_ms ? fmtDateTime(Number(s.started_ms)) : '';
  const build = s.build_id ? ` build ${s.build_id}` : '';
  return `${s.app || '?'}${build} · ${when} · ${String(s.id).slice(0, 8)}${s.live ? ' (live)' : ''}`;
}

function fmtValue(metric, v) {
  if (v === null || v === undefined) return '—';
  return metric === 'allocs_per_frame' ? Number(v).toFixed(2) : fmtBytes(Number(v));
}

function fmtChange(metric, m) {
  if (m.change === null || m.change === undefined) return '—';
  const d = Number(m.change);
  if (d === 0) return '=';
  const sign = d > 0 ? '+' : '−';
  const abs = metric === 'allocs_per_frame' ? Math.abs(d).toFixed(2) : fmtBytes(Math.abs(d));
  const pct = m.change_pct === null ? 'new' : `${d > 0 ? '+' : '−'}${Math.abs(Number(m.change_pct)).toFixed(Math.abs(m.change_pct) < 10 ? 1 : 0)} %`;
  return `${sign}${abs} (${pct})`;
}

// The name of a row for people: a tag path, or "tag · function file:line".
const rowName = (r) => (r.kind === 'site' ? `${tagName(r.tag)} · ${r.site}` : tagName(r.key));

export class ComparePanel {
  constructor(root) {
    this.root = root;
    this.$ = (sel) => root.querySelector(sel);
    this.sessions = [];
    this.doc = null; // the last /compare answer
    this.tag = '';
    this.seq = 0;
    this.plot = null;
    this.series = [[], [], []];
    this.$('#cmp-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.run();
    });
    this.$('#cmp-swap').addEventListener('click', () => {
      const b = this.$('#cmp-base'), c = this.$('#cmp-candidate');
      [b.value, c.value] = [c.value, b.value];
    });
    this.$('#cmp-tag').addEventListener('change', (ev) => this.showTag(ev.target.value));
    this.$('#cmp-refresh').addEventListener('click', () => this.loadSessions());
    this.resizeObs = new ResizeObserver(() => this.resize());
    this.resizeObs.observe(this.$('#cmp-chart'));
  }

  // The session lists (the newest page, as the main picker).
  async loadSessions() {
    const doc = await api.sessions();
    this.sessions = doc.sessions || [];
    for (const [sel, pick] of [['#cmp-base', 1], ['#cmp-candidate', 0]]) {
      const node = this.$(sel);
      const keep = node.value;
      node.replaceChildren(...this.sessions.map((s) => el('option', { value: s.id }, sessionLabel(s))));
      if (!this.sessions.length) node.append(el('option', { value: '' }, 'no sessions yet'));
      // Default: the newest session as the candidate, the one before as the base.
      const def = this.sessions[Math.min(pick, this.sessions.length - 1)];
      node.value = this.sessions.some((s) => s.id === keep) ? keep : def ? def.id : '';
    }
    this.$('#cmp-run').disabled = this.sessions.length === 0;
  }

  params() {
    const p = { base: this.$('#cmp-base').value, candidate: this.$('#cmp-candidate').value };
    const g = this.$('#cmp-growth').value.trim(), b = this.$('#cmp-bytes').value.trim();
    if (g) p.max_growth = g;
    if (b) p.min_bytes = b;
    return p;
  }

  async run() {
    const seq = ++this.seq;
    const p = this.params();
    if (!p.base || !p.candidate) return;
    this.setStatus('Comparing…', 'busy');
    this.root.dataset.state = 'busy';
    try {
      const doc = await api.compare(p);
      if (seq !== this.seq) return;
      this.doc = doc;
      this.renderSummary();
      this.renderTable();
      this.fillTags();
      this.root.dataset.state = 'done';
      await this.showTag(this.tag);
    } catch (e) {
      if (seq !== this.seq) return;
      this.root.dataset.state = 'error';
      this.setStatus(`Error: ${e.message}`, 'error');
    }
  }

  setStatus(text, kind) {
    const s = this.$('#cmp-status');
    setText(s, text);
    s.dataset.kind = kind || '';
  }

  renderSummary() {
    const d = this.doc;
    const n = Number(d.regressions);
    const parts = [n === 0 ? 'No regression' : `${n} regression${n === 1 ? '' : 's'}`, `${d.rows_total} rows compared`];
    if (Number(d.ignored)) parts.push(`${d.ignored} ignored`);
    for (const [side, label] of [[d.base, 'base'], [d.candidate, 'candidate']]) {
      parts.push(`${label}: ${side.frames_used} frames${side.truncated ? ` (newest of ${side.frames_total})` : ''}`);
    }
    if (d.sites_note) parts.push(d.sites_note);
    const t = d.thresholds;
    parts.push(`a figure fails above +${t.max_growth_pct} % and +${fmtBytes(Number(t.min_bytes))}`);
    this.setStatus(parts.join(' · '), n ? 'regression' : 'ok');
  }

  renderTable() {
    const body = this.$('#cmp-rows');
    const rows = this.doc.rows || [];
    body.replaceChildren(
      ...rows.map((r) => {
        const regress = r.status === 'regression';
        const name = rowName(r);
        const tr = el('tr', { dataset: { status: r.status, kind: r.kind } });
        const nameCell = el('th', { scope: 'row', title: name });
        // Choosing a row charts its tag (a site's, for a call site).
        nameCell.append(el('button', { type: 'button', class: 'linklike', onclick: () => this.showTag(r.tag), 'aria-label': `Chart ${tagName(r.tag)}` }, el('span', { class: 'kind' }, r.kind === 'site' ? 'site' : 'tag'), ' ', name));
        tr.append(nameCell);
        for (const [key] of METRICS) {
          const m = r.metrics[key];
          tr.append(el('td', { class: `num${m.failed ? ' failed' : ''}` }, el('span', { class: 'v' }, fmtValue(key, m.candidate)), el('span', { class: 'd' }, fmtChange(key, m)), m.failed ? el('span', { class: 'visually-hidden' }, ' (failed)') : null));
        }
        tr.append(el('td', null, el('span', { class: 'status', dataset: { status: r.status } }, regress ? 'Regression' : r.status)));
        return tr;
      }),
    );
    if (!rows.length) body.append(el('tr', { class: 'empty-row' }, el('td', { colspan: String(METRICS.length + 2) }, 'Nothing to compare: neither session has tags.')));
    const more = this.doc.rows_truncated ? ` (the first ${rows.length} of ${this.doc.rows_total})` : '';
    setText(this.$('#cmp-count'), `${rows.length} rows${more}`);
  }

  fillTags() {
    const tags = [...new Set((this.doc.rows || []).filter((r) => r.kind === 'tag').map((r) => r.key))].sort();
    if (!tags.includes('')) tags.unshift('');
    // The tag of the first regression, if any, is the one worth seeing.
    const first = (this.doc.rows || []).find((r) => r.status === 'regression');
    if (first && !this.pickedByUser) this.tag = first.tag;
    if (!tags.includes(this.tag)) this.tag = '';
    this.$('#cmp-tag').replaceChildren(...tags.map((t) => el('option', { value: t }, tagName(t))));
    this.$('#cmp-tag').value = this.tag;
  }

  // Both sessions' trend of a tag over their whole length, overlaid.
  async showTag(tag) {
    if (!this.doc) return;
    if (tag !== this.tag) this.pickedByUser = true;
    this.tag = tag;
    this.$('#cmp-tag').value = tag;
    setText(this.$('#cmp-chart-tag'), tagName(tag));
    const seq = this.seq;
    const sides = [this.doc.base.session, this.doc.candidate.session].map((id) => this.sessions.find((s) => s.id === id) || { id });
    const trends = await Promise.all(
      sides.map((s) => {
        const span = Number(s.last_frame_ms || 0) - Number(s.first_frame_ms || 0);
        const windowMs = Math.min(30 * 86400e3, Math.max(1000, Math.ceil(span / 1000) * 1000));
        return api.trend(s.id, tag, windowMs, POINTS).catch((e) => ({ error: e.message, series: [] }));
      }),
    );
    if (seq !== this.seq) return;
    // x: seconds since the session's first point, both on one axis.
    const xs = new Map();
    trends.forEach((t, k) => {
      const pts = (t.series || []).filter((p) => Number(p.frames) > 0);
      const t0 = pts.length ? Number(pts[0].t_ms) : 0;
      for (const p of pts) {
        const x = (Number(p.t_ms) - t0) / 1000;
        if (!xs.has(x)) xs.set(x, [null, null]);
        xs.get(x)[k] = Number(p.avg);
      }
    });
    const sorted = [...xs.keys()].sort((a, b) => a - b);
    this.series = [sorted, sorted.map((x) => xs.get(x)[0]), sorted.map((x) => xs.get(x)[1])];
    const errors = trends.filter((t) => t.error).map((t) => t.error);
    setText(this.$('#cmp-chart-note'), errors.length ? `Trend unavailable: ${errors.join('; ')}` : `Average live bytes of ${tagName(tag)} (descendants included) per point, from each session's first frame.`);
    this.$('#cmp-chart').dataset.points = String(sorted.length);
    this.draw();
  }

  draw() {
    const host = this.$('#cmp-chart');
    if (!this.plot) {
      const bytes = (u, v) => (v === null || v === undefined ? '—' : fmtBytes(v));
      this.plot = new uPlot(
        {
          width: Math.max(200, host.clientWidth),
          height: 220,
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: false }, y: { range: (u, lo, hi) => [0, Math.max((hi || 0) * 1.1, 1024)] } },
          axes: [
            { stroke: C.axis, grid: { stroke: C.grid, width: 1 }, ticks: { stroke: C.grid }, values: (u, splits) => splits.map((v) => `${Number(v.toFixed(3))} s`) },
            { stroke: C.axis, grid: { stroke: C.grid, width: 1 }, ticks: { stroke: C.grid }, size: 70, splits: (u, axis, lo, hi) => niceTicks(Math.max(0, lo), hi), values: (u, splits) => splits.map((v) => fmtBytesShort(v)) },
          ],
          series: [
            { label: 'since start', value: (u, v) => (v === null || v === undefined ? '—' : `${v.toFixed(3)} s`) },
            { label: 'base', stroke: C.base, width: 2, dash: [6, 4], value: bytes, spanGaps: true },
            { label: 'candidate', stroke: C.candidate, width: 2, value: bytes, spanGaps: true },
          ],
        },
        this.series,
        host,
      );
    } else this.plot.setData(this.series);
  }

  resize() {
    if (!this.plot) return;
    const w = Math.max(200, Math.floor(this.$('#cmp-chart').clientWidth));
    if (w !== this.plot.width) this.plot.setSize({ width: w, height: 220 });
  }
}

// The hook app.js calls: the panel on its section, its sessions loaded.
export function mountCompare(root) {
  if (!root) return null;
  const panel = new ComparePanel(root);
  panel.loadSessions().catch((e) => panel.setStatus(`Error: ${e.message}`, 'error'));
  return panel;
}
