// where.js — the "Where" panel: which lines allocate the selected tag.
//
// For the tag chosen in the tree (all memory when none), the session's top
// call sites over the trend's window (GET /sites): function, file:line,
// bytes and allocations per frame, share of the tag, and a sparkline of the
// site's bytes per frame (GET /sites/{site}, one request per row shown).
// Choosing a site charts it; when the daemon runs with --source-root, the
// site's line and its neighbours are shown with the figures written above
// the line, the way an editor's code lens would.
//
// Everything named here (tags, functions, files, source lines) comes from
// the game through the daemon and is hostile input: it only reaches the
// page as text (el(), setText, setAttribute), never as markup.
//
// Keyboard: the table is one tab stop; Up/Down/Home/End move between sites,
// Enter or Space charts the site; the source view is a focusable region.

import uPlot from './vendor/uPlot.esm.js';
import { api, ApiError } from './api.js';
import { timeBytesAxes, WINDOWS } from './chart.js';
import { el, fmtBytes, fmtClock, fmtDuration, setText, tagName } from './format.js';

export const WHERE_LIMIT = 10; // rows shown
const SPARK_POINTS = 30;
// A row's sparkline is asked for again at most this often (one request per
// row: the list itself is refreshed at every poll of the page).
const SPARK_EVERY_MS = 15000;
const CHART_POINTS = 60;
const CONTEXT_LINES = 3;
const SVG = 'http://www.w3.org/2000/svg';
const KIND_NAMES = { frame: 'frame arena', pool: 'pool', heap: 'heap' };

const pairKey = (r) => `${r.site_id}:${r.tag_id}`;
const fmtCount = (v) => (v === null || v === undefined ? '—' : Number(v) >= 10 || Number.isInteger(Number(v)) ? String(Math.round(Number(v))) : Number(v).toFixed(2));
const fmtShare = (s) => (s === null || s === undefined ? '—' : `${(Number(s) * 100).toFixed(Number(s) < 0.1 ? 1 : 0)} %`);
const windowParam = (ms) => `${Math.max(1, Math.round(ms / 1000))}s`;
// The API's tag filter: a pair's own tag ("" is the root, "/" in the query).
const tagParam = (tag) => (tag === null || tag === undefined ? undefined : tag === '' ? '/' : tag);

// What a row is called: its function, or why it has none.
function siteName(r) {
  if (r.other) return '(other sites)';
  if (!r.defined) return `(site ${r.site_id}, not defined)`;
  if (!r.line) return `(unknown ${r.kind || ''} site)`;
  return r.function || '(no function)';
}
function sitePlace(r) {
  if (r.other) return 'sites left out of the frames\u2019 rows';
  if (!r.defined) return '—';
  if (!r.line) return 'calls that bypass the macros';
  return `${r.file}:${r.line}`;
}

// The figures a site is known by, in one line (the row, the code lens).
function lensText(r, ofTag) {
  const count = Number(r.count_per_frame && r.count_per_frame.avg);
  const parts = [
    `${fmtBytes(r.bytes_per_frame && r.bytes_per_frame.avg)}/frame`,
    `${fmtCount(count)} allocation${count === 1 ? '' : 's'}/frame`,
    `${fmtShare(r.share)} of ${ofTag}`,
    `max ${fmtBytes(r.bytes_per_frame && r.bytes_per_frame.max)}`,
  ];
  if (r.kind) parts.push(KIND_NAMES[r.kind] || r.kind);
  if (r.live_bytes && Number(r.live_bytes.last)) parts.push(`${fmtBytes(r.live_bytes.last)} live`);
  return parts.join(' \u00b7 ');
}

// A path as text nodes with a line-break opportunity after each '/'.
function breakable(text) {
  const out = [];
  for (const part of text.split(/(?<=\/)/)) out.push(part, el('wbr'));
  out.pop();
  return out;
}

function sparkline(label) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'site-spark');
  svg.setAttribute('viewBox', '0 0 100 24');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const line = document.createElementNS(SVG, 'polyline');
  svg.append(line);
  return svg;
}

// Points of a polyline over 100 x 24 for the series' bytes per frame.
function sparkPoints(series) {
  const v = series.map((p) => Number(p.bytes_per_frame) || 0);
  if (!v.length) return '';
  const hi = Math.max(...v, 1);
  const x = (i) => (v.length < 2 ? i * 100 : (i / (v.length - 1)) * 100);
  const y = (b) => 22 - (b / hi) * 20;
  const pts = v.map((b, i) => `${x(i).toFixed(1)},${y(b).toFixed(1)}`);
  if (v.length === 1) pts.push(`100,${y(v[0]).toFixed(1)}`);
  return pts.join(' ');
}

export class WherePanel {
  constructor(host) {
    this.host = host;
    this.sid = null;
    this.tag = '';
    this.windowMs = 60e3;
    this.seq = 0;
    this.rows = new Map(); // pair key -> {row, cells..., data}
    this.order = [];
    this.chosen = null; // {site_id, tag_id, tag}
    this.detailSeq = 0;
    this.plot = null;
    this.newest = -1; // the newest point with figures (the legend's)
    this.build();
  }

  build() {
    const h = this.host;
    this.title = el('span', { class: 'where-tag' }, 'All memory');
    this.count = el('span', { class: 'count' });
    this.body = el('tbody');
    this.note = el('p', { class: 'help where-note', 'aria-live': 'polite' });
    this.table = el(
      'table',
      { class: 'where-table', 'aria-describedby': 'where-help' },
      el('caption', { class: 'visually-hidden' }, 'Call sites of the selected tag over the trend window, largest first'),
      el(
        'thead',
        null,
        el(
          'tr',
          null,
          el('th', { scope: 'col' }, 'Function'),
          el('th', { scope: 'col', class: 'c-file' }, 'File:line'),
          el('th', { scope: 'col', class: 'c-num' }, 'Bytes/frame'),
          el('th', { scope: 'col', class: 'c-num c-count' }, 'Count/frame'),
          el('th', { scope: 'col', class: 'c-num' }, 'Share'),
          el('th', { scope: 'col', class: 'c-spark' }, 'Trend'),
        ),
      ),
      this.body,
    );
    this.siteTitle = el('h3', { class: 'where-site-title', id: 'where-site-title' });
    this.chartHost = el('div', { class: 'where-chart', role: 'img', 'aria-label': 'Chart of the chosen call site: bytes per frame, average and maximum per point' });
    this.chartNote = el('p', { class: 'help where-chart-note', 'aria-live': 'polite' });
    this.source = el('div', { class: 'where-source', role: 'region', tabindex: '0', 'aria-labelledby': 'where-site-title' });
    this.site = el('div', { class: 'where-site', hidden: true }, this.siteTitle, this.chartHost, this.chartNote, this.source);
    h.append(
      el('div', { class: 'panel-head' }, el('h2', { id: 'where-title' }, 'Where: ', this.title, ' ', this.count)),
      el('div', { class: 'where-scroll' }, this.table),
      this.note,
      el('p', { id: 'where-help', class: 'help' }, 'The lines that allocate the tag chosen in the tree. Up and Down move, Enter charts a site and shows its source.'),
      this.site,
    );
    this.body.addEventListener('keydown', (ev) => this.onKey(ev));
    this.resizeObs = new ResizeObserver(() => this.resize());
    this.resizeObs.observe(this.chartHost);
  }

  // The session, tag path ('' = all memory; null: none yet, the panel
  // waits) and window shown; loads when any of them changed.
  show(sid, tag, windowMs) {
    const changed = sid !== this.sid || tag !== this.tag || windowMs !== this.windowMs;
    const newSession = sid !== this.sid;
    this.sid = sid;
    this.tag = tag;
    this.windowMs = windowMs;
    if (!changed) return Promise.resolve();
    setText(this.title, tag === null ? '\u2014' : tag === '' ? 'All memory' : tagName(tag));
    this.host.dataset.tag = tag === null ? '' : tag === '' ? '/' : tag;
    if (newSession || tag !== this.chosenUnder) this.choose(null);
    this.clearRows();
    this.host.dataset.state = 'loading'; // not 'ok' for the figures of another tag
    return this.refresh();
  }

  clearRows() {
    this.rows.clear();
    this.order = [];
    this.body.replaceChildren();
    setText(this.count, '');
  }

  // Reloads the list (and the chosen site): on a change, and every poll of
  // a live session.
  async refresh() {
    const seq = ++this.seq;
    if (!this.sid) {
      this.setState('empty', 'Choose a session.');
      return;
    }
    if (this.tag === null) return;
    let doc;
    try {
      doc = await api.sites(this.sid, { tag: tagParam(this.tag), window: windowParam(this.windowMs), limit: WHERE_LIMIT });
    } catch (e) {
      if (seq !== this.seq) return;
      if (e instanceof ApiError && e.code === 'tag_not_found') {
        this.clearRows();
        this.setState('empty', `No call sites for ${tagName(this.tag)} yet.`);
        return;
      }
      throw e;
    }
    if (seq !== this.seq) return;
    this.fill(doc);
    const now = Date.now();
    const stale = (r) => {
      const it = this.rows.get(pairKey(r));
      return it && it.spark && !(now - it.sparkAt < SPARK_EVERY_MS);
    };
    const sparks = (doc.sites || []).filter(stale).map((r) => this.loadSpark(r, seq));
    const detail = this.chosen ? this.loadDetail() : null;
    await Promise.all([...sparks, detail]);
  }

  setState(state, text) {
    this.host.dataset.state = state;
    setText(this.note, text);
  }

  fill(doc) {
    const list = doc.sites || [];
    const ofTag = this.tag === '' ? 'all memory' : tagName(this.tag);
    setText(this.count, list.length ? `${list.length}${doc.truncated ? ` of ${doc.pairs}` : ''}` : '');
    if (!list.length) {
      this.clearRows();
      this.setState('empty', `No call sites for ${ofTag} in the last ${fmtWindow(this.windowMs)}: the game sends none (built with FA_NO_SITES, or an agent older than protocol 1.1), or it allocated nothing there.`);
      return;
    }
    const keys = list.map(pairKey);
    const focused = this.body.contains(document.activeElement) ? document.activeElement.closest('tr') : null;
    for (const k of [...this.rows.keys()]) if (!keys.includes(k)) this.rows.delete(k);
    list.forEach((r) => {
      const k = pairKey(r);
      let it = this.rows.get(k);
      if (!it) {
        it = this.makeRow(r);
        this.rows.set(k, it);
      }
      it.data = r;
      this.paintRow(it, ofTag);
    });
    if (keys.join() !== this.order.join()) {
      this.order = keys;
      this.body.replaceChildren(...keys.map((k) => this.rows.get(k).row));
      if (focused && focused.isConnected) focused.querySelector('.site-pick')?.focus();
    }
    this.fixTabStop();
    const src = { raw: 'raw frames', '1s': 'per-second rollups', '10s': '10-second rollups', '1m': 'per-minute rollups' }[doc.source] || doc.source;
    this.setState('ok', `${fmtWindow(this.windowMs)} from ${src}, ${doc.frames} frames: ${doc.pairs} call site${doc.pairs === 1 ? '' : 's'} of ${ofTag}, ${fmtBytes(doc.totals && doc.totals.bytes_per_frame)}/frame in all.`);
  }

  makeRow(r) {
    const key = pairKey(r);
    const pickable = !r.other && r.site_id > 0;
    const name = el('span', { class: 'site-fn' });
    const tag = el('span', { class: 'site-tag' });
    const pick = pickable ? el('button', { type: 'button', class: 'site-pick', tabindex: '-1', 'aria-pressed': 'false', 'aria-describedby': 'where-help' }, name) : el('span', { class: 'site-pick static' }, name);
    const file = el('td', { class: 'c-file' });
    const bytes = el('td', { class: 'num' });
    const count = el('td', { class: 'num c-count' });
    const share = el('td', { class: 'num' });
    const spark = pickable ? sparkline('bytes per frame: loading') : null;
    const row = el('tr', { dataset: { key, site: String(r.site_id) } }, el('th', { scope: 'row', class: 'c-fn' }, pick, tag), file, bytes, count, share, el('td', { class: 'c-spark' }, spark));
    if (pickable) pick.addEventListener('click', () => this.choose(this.rows.get(key).data, true));
    return { row, pick, name, tag, file, bytes, count, share, spark, pickable };
  }

  paintRow(it, ofTag) {
    const r = it.data;
    setText(it.name, siteName(r));
    setText(it.tag, r.tag !== null && r.tag !== undefined && r.tag !== this.tag ? `in ${tagName(r.tag)}` : r.tag === null && !r.other ? 'in an undefined tag' : '');
    const place = sitePlace(r);
    if (it.file.textContent !== place) it.file.replaceChildren(...breakable(place));
    it.file.title = r.defined && r.file ? `${r.file}:${r.line}` : '';
    setText(it.bytes, fmtBytes(r.bytes_per_frame && r.bytes_per_frame.avg));
    setText(it.count, fmtCount(r.count_per_frame && r.count_per_frame.avg));
    setText(it.share, fmtShare(r.share));
    it.row.dataset.other = r.other ? '1' : '0';
    if (it.pickable) {
      const on = !!this.chosen && pairKey(this.chosen) === pairKey(r);
      it.pick.setAttribute('aria-pressed', on ? 'true' : 'false');
      it.row.classList.toggle('selected', on);
      it.pick.setAttribute('aria-label', `${siteName(r)} at ${sitePlace(r)}: ${lensText(r, ofTag)}`);
    }
  }

  async loadSpark(r, seq) {
    let doc;
    try {
      doc = await api.site(this.sid, r.site_id, { tag: tagParam(r.tag), window: windowParam(this.windowMs), points: SPARK_POINTS, context: 0 });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return;
      throw e;
    }
    const it = this.rows.get(pairKey(r));
    if (seq !== this.seq || !it || !it.spark) return;
    it.sparkAt = Date.now();
    const series = (doc.trend && doc.trend.series) || [];
    it.spark.firstChild.setAttribute('points', sparkPoints(series));
    it.spark.dataset.points = String(series.length);
    const v = series.map((p) => Number(p.bytes_per_frame) || 0);
    it.spark.setAttribute('aria-label', v.length ? `bytes per frame over ${fmtWindow(this.windowMs)}: ${fmtBytes(Math.min(...v))} to ${fmtBytes(Math.max(...v))}` : 'no figures in the window');
  }

  // One tab stop in the table: the chosen site's button, else the first.
  fixTabStop() {
    const picks = [...this.body.querySelectorAll('button.site-pick')];
    const stop = picks.find((b) => b === document.activeElement) || picks.find((b) => b.getAttribute('aria-pressed') === 'true') || picks[0];
    for (const b of picks) b.tabIndex = b === stop ? 0 : -1;
  }

  onKey(ev) {
    const picks = [...this.body.querySelectorAll('button.site-pick')];
    const i = picks.indexOf(ev.target);
    if (i < 0) return;
    const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: picks.length - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    const b = picks[Math.max(0, Math.min(picks.length - 1, to))];
    for (const p of picks) p.tabIndex = p === b ? 0 : -1;
    b.focus();
  }

  // Charts a (site, tag) pair and shows its source; null hides the view.
  choose(r, fromUser = false) {
    this.chosen = r ? { site_id: r.site_id, tag_id: r.tag_id, tag: r.tag } : null;
    this.chosenUnder = this.tag;
    const ofTag = this.tag === '' ? 'all memory' : tagName(this.tag);
    for (const it of this.rows.values()) this.paintRow(it, ofTag);
    this.fixTabStop();
    this.site.hidden = !r;
    this.host.dataset.site = r ? String(r.site_id) : '';
    if (!r) {
      this.chartHost.dataset.points = '0';
      this.source.dataset.status = '';
      return Promise.resolve();
    }
    setText(this.siteTitle, `${siteName(r)} \u2014 ${sitePlace(r)}${r.tag !== null && r.tag !== undefined ? ` (${tagName(r.tag)})` : ''}`);
    this.chartHost.setAttribute('aria-label', `Chart of ${siteName(r)} at ${sitePlace(r)}: bytes per frame, average and maximum per point, over ${fmtWindow(this.windowMs)}`);
    this.chartHost.dataset.points = '0';
    const p = this.loadDetail();
    if (fromUser) p.catch((e) => setText(this.chartNote, `Error: ${e.message}`));
    return p;
  }

  async loadDetail() {
    const c = this.chosen;
    if (!c || !this.sid) return;
    const seq = ++this.detailSeq;
    const doc = await api.site(this.sid, c.site_id, { tag: tagParam(c.tag), window: windowParam(this.windowMs), points: CHART_POINTS, context: CONTEXT_LINES });
    if (seq !== this.detailSeq || !this.chosen || pairKey(this.chosen) !== pairKey(c)) return;
    const it = this.rows.get(pairKey(c));
    this.drawChart(doc);
    this.drawSource(doc, it ? it.data : null);
  }

  drawChart(doc) {
    const t = doc.trend || { series: [] };
    const step = Number(t.step_ms) || this.windowMs / CHART_POINTS;
    const from = Number(doc.from_ms);
    const byT = new Map((t.series || []).map((p) => [Number(p.t_ms), p]));
    // The daemon omits empty points: put them back as gaps.
    const xs = [];
    const avg = [];
    const max = [];
    const n = Number(t.points) || 0;
    const grid = Number.isFinite(from) && n > 0 && n <= 1000 ? Array.from({ length: n }, (_, i) => from + i * step) : [...byT.keys()];
    for (const x of [...new Set([...grid, ...byT.keys()])].sort((a, b) => a - b)) {
      const p = byT.get(x);
      xs.push(x / 1000);
      avg.push(p ? Number(p.bytes_per_frame) : null);
      max.push(p ? Number(p.bytes_max) : null);
    }
    const data = [xs, avg, max];
    if (!this.plot) {
      const bytes = (u, v) => (v === null || v === undefined ? '—' : fmtBytes(v));
      this.plot = new uPlot(
        {
          width: Math.max(200, this.chartHost.clientWidth),
          height: 160,
          cursor: { drag: { x: false, y: false } },
          // After uPlot's own (deferred) cursor update, which resets the legend.
          hooks: { setCursor: [() => this.legendNewest()] },
          scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max((hi || 0) * 1.1, 64)] } },
          axes: timeBytesAxes(() => this.windowMs),
          series: [
            { label: 'time', value: (u, v) => (v ? fmtClock(v * 1000) : '—') },
            { label: 'bytes/frame', stroke: '#60a5fa', width: 2, value: bytes },
            { label: 'max in a frame', stroke: 'rgba(251,191,36,0.8)', width: 1, dash: [4, 3], value: bytes },
          ],
        },
        data,
        this.chartHost,
      );
    } else this.plot.setData(data);
    let last = avg.length - 1;
    while (last >= 0 && avg[last] === null) last--;
    this.newest = last;
    const shown = avg.filter((v) => v !== null).length;
    this.chartHost.dataset.points = String(shown);
    setText(this.chartNote, shown ? `${fmtWindow(this.windowMs)}, ${CHART_POINTS} points: the line is the average bytes per frame of each point, dashed the most in one frame.` : 'No figures for this site in the window.');
  }

  drawSource(doc, row) {
    const status = doc.source_code_status || 'error';
    this.source.dataset.status = status;
    const why = {
      off: 'Start fa-insightd with --source-root DIR (the game\u2019s source tree) to see this line here.',
      no_position: 'This site has no source position.',
      not_found: `No file under the daemon\u2019s source root matches ${doc.file || 'the site\u2019s file'}.`,
      no_line: `${doc.file} is shorter than line ${doc.line}: it changed since the game was built.`,
      error: 'The daemon could not read the source file.',
    };
    const sc = doc.source_code;
    if (status !== 'ok' || !sc || !Array.isArray(sc.lines)) {
      this.source.replaceChildren(el('p', { class: 'help' }, why[status] || `Source unavailable (${status}).`));
      return;
    }
    const ofTag = this.tag === '' ? 'all memory' : tagName(this.tag);
    const lines = sc.lines.map((text, i) => {
      const n = Number(sc.first_line) + i;
      const at = n === Number(sc.line);
      const code = el('div', { class: `src-line${at ? ' at' : ''}`, dataset: { line: String(n) } }, el('span', { class: 'ln', 'aria-hidden': 'true' }, String(n)), el('code', null, String(text)));
      if (!at) return code;
      // The lens sits above the line, indented like its code.
      const indent = /^\s*/.exec(String(text))[0].length;
      const lens = el('div', { class: 'lens' }, el('span', { class: 'ln', 'aria-hidden': 'true' }), el('span', { class: 'lens-text' }, row ? lensText(row, ofTag) : 'no figures in the window'));
      lens.lastChild.style.paddingLeft = `${indent}ch`;
      return [lens, code];
    });
    this.source.replaceChildren(el('p', { class: 'src-path' }, `${sc.path}:${sc.line}`), el('div', { class: 'src', role: 'presentation' }, ...lines.flat()));
  }

  // Without the pointer over the chart, the legend shows the newest point.
  legendNewest() {
    if (this.plot && this.newest >= 0 && !(this.plot.cursor.left >= 0)) this.plot.setLegend({ idx: this.newest });
  }

  resize() {
    if (!this.plot) return;
    const w = Math.max(200, Math.floor(this.chartHost.clientWidth));
    if (w !== this.plot.width) this.plot.setSize({ width: w, height: 160 });
  }
}

function fmtWindow(ms) {
  const w = WINDOWS.find((x) => x.ms === ms);
  return w ? w.label : fmtDuration(ms);
}
