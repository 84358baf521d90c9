// tree.js — the tag tree: an expandable hierarchy of tags with current and
// peak bytes, a budget bar coloured by state and a sparkline per tag.
//
// Cost model (200 tags, a live message 20 times a second, 60 fps screen):
// rows are created once per tag and updated in place; a live message only
// stores numbers (update()), and render() — called at most once per
// animation frame by app.js — writes the cells whose text changed. The row
// order is recomputed when the structure changes, and at most once a second
// when sorting by size, so rows do not jump under the pointer. Sparklines
// are redrawn at most 4 times a second, and only for rows on screen.

import { budgetState, el, fmtBytes, fmtBytesShort, fmtPct, setText, tagName } from './format.js';

const SPARK_N = 120; // samples kept per tag (6 s at 20 messages/s)
const SPARK_W = 96;
const SPARK_H = 22;
const SORT_INTERVAL_MS = 1000;
const SPARK_INTERVAL_MS = 250;
const COLLATOR = new Intl.Collator('en', { numeric: true });
const STATE_COLOURS = { ok: '#4ade80', warn: '#fbbf24', crit: '#f87171', none: '#93c5fd' };

export class TagTree {
  // grid: the role=treegrid element (a header row and a .rows group);
  // onselect(path): a tag was chosen for the trend chart.
  constructor(grid, { onselect } = {}) {
    this.table = grid;
    this.tbody = grid.querySelector('.rows');
    this.onselect = onselect || (() => {});
    this.nodes = new Map(); // id -> node
    this.byPath = new Map(); // path -> node
    this.roots = [];
    this.sort = 'name'; // 'name' | 'size'
    this.sortDir = 1; // name: ascending; size: descending
    this.selectedPath = null;
    this.structureDirty = true;
    this.valuesDirty = true;
    this.lastSort = 0;
    this.lastSpark = 0;
    this.sparkDirty = false;
    this.visible = [];
    this.dpr = Math.min(2, window.devicePixelRatio || 1);
    this.onScreen = new Set();
    this.observer =
      'IntersectionObserver' in window
        ? new IntersectionObserver((entries) => {
            for (const e of entries) {
              const node = e.target._node;
              if (!node) continue;
              if (e.isIntersecting) {
                this.onScreen.add(node);
                node.sparkStale = true;
                this.sparkDirty = true;
                if (node.dirty) this.valuesDirty = true;
                this.requestRender();
              } else this.onScreen.delete(node);
            }
          })
        : null;
    this.bindHeader();
    this.bindKeys();
  }

  clear() {
    for (const n of this.nodes.values()) if (this.observer) this.observer.unobserve(n.row);
    this.nodes.clear();
    this.byPath.clear();
    this.roots = [];
    this.onScreen.clear();
    this.tbody.replaceChildren();
    this.visible = [];
    this.tabStop = null;
    this.structureDirty = true;
  }

  get size() {
    return this.nodes.size;
  }

  // Loads the tag list (normalised by app.js: id, parent_id, path, depth,
  // live, peak, soft, hard). Keeps expansion state and sparkline history of
  // tags already known.
  load(tags) {
    const seen = new Set();
    for (const t of tags) {
      if (t.depth === 0) continue; // the root is the session total, shown above
      seen.add(t.id);
      let n = this.nodes.get(t.id);
      if (!n || n.path !== t.path) {
        if (n) this.remove(n);
        n = this.create(t);
      }
      Object.assign(n, pickValues(t));
      n.parentId = t.parent_id;
      // The figure read now is the sparkline's first point: it shows at
      // once instead of after the first stream messages.
      if (n.sparkLen === 0 && n.live !== null && n.live !== undefined) {
        pushSpark(n, Number(n.live), Date.now());
        n.sparkStale = true;
        this.sparkDirty = true;
      }
    }
    for (const n of [...this.nodes.values()]) if (!seen.has(n.id)) this.remove(n);
    this.relink();
    // New branches open when they are small: "physics/contacts" shows at
    // once, a group of 200 asset tags waits for a click.
    for (const n of this.nodes.values()) {
      if (n.expandDecided) continue;
      n.expandDecided = true;
      n.expanded = countDescendants(n) <= 12;
    }
    this.structureDirty = true;
    this.valuesDirty = true;
  }

  // Live values of one tag row (from a WebSocket frame).
  update(id, values, tMs) {
    const n = this.nodes.get(id);
    if (!n) return false;
    Object.assign(n, values);
    if (n.live !== null) pushSpark(n, n.live, tMs);
    n.dirty = true;
    this.valuesDirty = true;
    if (this.onScreen.has(n) || !this.observer) {
      n.sparkStale = true;
      this.sparkDirty = true;
    }
    return true;
  }

  has(id) {
    return this.nodes.has(id);
  }

  create(t) {
    const name = t.path.split('/').pop();
    const node = {
      id: t.id,
      parentId: t.parent_id,
      path: t.path,
      name: name === '' ? tagName(t.path) : name,
      depth: t.depth,
      children: [],
      expanded: false,
      expandDecided: false,
      spark: new Float64Array(SPARK_N),
      sparkT: new Float64Array(SPARK_N),
      sparkLen: 0,
      sparkPos: 0,
      sparkStale: true,
      dirty: true,
      live: null,
      peak: null,
      soft: 0,
      hard: 0,
    };
    const toggle = el('button', {
      class: 'twisty',
      type: 'button',
      'aria-label': `Expand ${t.path}`,
      'aria-expanded': 'false',
      tabindex: '-1',
      onclick: () => this.toggle(node),
    });
    const pick = el(
      'button',
      {
        class: 'tag-name',
        type: 'button',
        title: `Show ${t.path} in the trend chart`,
        'aria-pressed': 'false',
        tabindex: '-1',
        onclick: () => this.select(node.path),
      },
      node.name,
    );
    const cur = el('div', { role: 'gridcell', class: 'num cur' });
    const peak = el('div', { role: 'gridcell', class: 'num peak' });
    const fill = el('span', { class: 'fill' });
    const bar = el('span', { class: 'bar', 'aria-hidden': 'true' }, fill);
    const pctText = el('span', { class: 'pct' });
    const budgetText = el('span', { class: 'budget-of' });
    const budget = el('div', { role: 'gridcell', class: 'budget' }, bar, pctText, budgetText);
    const canvas = el('canvas', {
      class: 'spark',
      width: SPARK_W * this.dpr,
      height: SPARK_H * this.dpr,
      'aria-hidden': 'true',
    });
    const spark = el('div', { role: 'gridcell', class: 'spark-cell' }, canvas);
    const nameCell = el('div', { role: 'rowheader', class: 'tag' }, el('span', { class: 'indent' }), toggle, pick);
    const row = el('div', { role: 'row', class: 'row', 'aria-level': String(Math.max(1, t.depth)), dataset: { path: t.path, id: String(t.id) } }, nameCell, cur, peak, budget, spark);
    row._node = node;
    nameCell.style.setProperty('--depth', String(Math.max(0, t.depth - 1)));
    Object.assign(node, { row, toggleBtn: toggle, pickBtn: pick, cur, peakCell: peak, fill, pctText, budgetText, canvas, budgetCell: budget });
    this.nodes.set(t.id, node);
    this.byPath.set(t.path, node);
    if (this.observer) this.observer.observe(row);
    return node;
  }

  remove(n) {
    if (this.tabStop === n) this.tabStop = null;
    if (this.observer) this.observer.unobserve(n.row);
    this.onScreen.delete(n);
    n.row.remove();
    this.nodes.delete(n.id);
    if (this.byPath.get(n.path) === n) this.byPath.delete(n.path);
  }

  relink() {
    this.roots = [];
    for (const n of this.nodes.values()) n.children = [];
    for (const n of this.nodes.values()) {
      const p = n.parentId !== n.id ? this.nodes.get(n.parentId) : null;
      if (p) p.children.push(n);
      else this.roots.push(n);
    }
  }

  toggle(node, open) {
    node.expanded = open === undefined ? !node.expanded : open;
    this.structureDirty = true;
    this.requestRender();
  }

  expandAll(open = true) {
    for (const n of this.nodes.values()) if (n.children.length) n.expanded = open;
    this.structureDirty = true;
    this.requestRender();
  }

  setSort(kind) {
    if (this.sort === kind) this.sortDir = -this.sortDir;
    else {
      this.sort = kind;
      this.sortDir = 1;
    }
    this.structureDirty = true;
    this.updateHeader();
    this.requestRender();
  }

  // Marks path as the charted tag; notify=false only updates the marks.
  select(path, notify = true) {
    this.selectedPath = path;
    for (const n of this.nodes.values()) {
      const on = n.path === path;
      n.pickBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
      n.row.classList.toggle('selected', on);
    }
    if (notify) this.onselect(path);
  }

  // requestRender is set by app.js (it batches everything into one
  // animation frame).
  requestRender() {}

  order() {
    const out = [];
    const bySize = this.sort === 'size';
    const dir = this.sortDir;
    const cmp = bySize
      ? (a, b) => dir * ((b.live ?? -1) - (a.live ?? -1)) || COLLATOR.compare(a.name, b.name)
      : (a, b) => dir * COLLATOR.compare(a.name, b.name);
    const walk = (list) => {
      const sorted = list.slice().sort(cmp);
      for (const n of sorted) {
        out.push(n);
        if (n.expanded && n.children.length) walk(n.children);
      }
    };
    walk(this.roots);
    return out;
  }

  render(now = performance.now()) {
    if (this.sort === 'size' && now - this.lastSort > SORT_INTERVAL_MS && this.valuesDirty) this.structureDirty = true;
    if (this.structureDirty) {
      this.lastSort = now;
      this.structureDirty = false;
      const order = this.order();
      const keep = new Set(order);
      const focused = this.tbody.contains(document.activeElement) ? document.activeElement : null;
      // Rows of collapsed branches leave the DOM; the others move only when
      // out of place (moving a row would also drop the keyboard focus).
      for (const n of this.visible) if (!keep.has(n)) n.row.remove();
      let prev = null;
      for (const n of order) {
        const want = prev ? prev.nextSibling : this.tbody.firstChild;
        if (n.row !== want) this.tbody.insertBefore(n.row, want);
        prev = n.row;
      }
      if (focused && focused.isConnected && document.activeElement !== focused) focused.focus();
      this.visible = order;
      for (const n of order) {
        const has = n.children.length > 0;
        const key = has ? (n.expanded ? 2 : 1) : 0;
        if (n.shownKey === key) continue; // attributes already right
        n.shownKey = key;
        n.toggleBtn.hidden = !has;
        n.toggleBtn.setAttribute('aria-expanded', key === 2 ? 'true' : 'false');
        n.toggleBtn.setAttribute('aria-label', `${key === 2 ? 'Collapse' : 'Expand'} ${n.path}`);
        if (has) n.row.setAttribute('aria-expanded', key === 2 ? 'true' : 'false');
        else n.row.removeAttribute('aria-expanded');
        n.row.classList.toggle('branch', has);
      }
      this.setTabStops();
    }
    if (this.valuesDirty) {
      this.valuesDirty = false;
      // Rows scrolled out of view keep their dirty mark and are painted
      // when they come back (the observer marks them): with 200 rows only
      // the twenty or so on screen cost anything.
      const rows = this.observer ? this.onScreen : this.visible;
      for (const n of rows) if (n.dirty && n.row.isConnected) this.paintRow(n);
    }
    if (this.sparkDirty && now - this.lastSpark > SPARK_INTERVAL_MS) {
      this.lastSpark = now;
      this.sparkDirty = false;
      const rows = this.observer ? this.onScreen : this.visible;
      for (const n of rows) {
        if (n.sparkStale && n.row.isConnected) {
          n.sparkStale = false;
          drawSpark(n, this.dpr);
        }
      }
    }
  }

  paintRow(n) {
    n.dirty = false;
    setText(n.cur, fmtBytes(n.live));
    setText(n.peakCell, fmtBytes(n.peak));
    if (n.hard > 0 && n.live !== null) {
      const pct = (100 * n.live) / n.hard;
      const state = budgetState(pct);
      n.fill.style.transform = `scaleX(${(Math.min(100, pct) / 100).toFixed(3)})`;
      if (n.state !== state) {
        n.budgetCell.dataset.state = state;
        n.row.dataset.state = state;
        n.state = state;
      }
      setText(n.pctText, fmtPct(pct));
      setText(n.budgetText, `of ${fmtBytesShort(n.hard)}`);
    } else if (n.state !== 'none') {
      n.state = 'none';
      n.budgetCell.dataset.state = 'none';
      n.row.dataset.state = 'none';
      n.fill.style.transform = 'scaleX(0)';
      setText(n.pctText, '');
      setText(n.budgetText, 'no budget');
    }
  }

  // One tab stop for the tree (roving tabindex on the tag buttons); arrows
  // move, Right/Left expand and collapse, Enter/Space select.
  setTabStops() {
    let stop = this.visible.find((n) => n.pickBtn === document.activeElement) || this.visible.find((n) => n.path === this.selectedPath) || this.visible[0];
    if (this.tabStop && this.tabStop !== stop) this.tabStop.pickBtn.tabIndex = -1;
    if (stop) stop.pickBtn.tabIndex = 0;
    this.tabStop = stop;
  }

  bindKeys() {
    this.tbody.addEventListener('keydown', (ev) => {
      const row = ev.target.closest('[role="row"]');
      if (!row || !row._node) return;
      const n = row._node;
      const i = this.visible.indexOf(n);
      let target = null;
      switch (ev.key) {
        case 'ArrowDown':
          target = this.visible[i + 1];
          break;
        case 'ArrowUp':
          target = this.visible[i - 1];
          break;
        case 'Home':
          target = this.visible[0];
          break;
        case 'End':
          target = this.visible[this.visible.length - 1];
          break;
        case 'ArrowRight':
          if (n.children.length && !n.expanded) this.toggle(n, true);
          else if (n.expanded) target = n.children.length ? this.visible[i + 1] : null;
          break;
        case 'ArrowLeft':
          if (n.children.length && n.expanded) this.toggle(n, false);
          else target = this.nodes.get(n.parentId) || null;
          break;
        default:
          return;
      }
      ev.preventDefault();
      if (target) {
        if (this.tabStop) this.tabStop.pickBtn.tabIndex = -1;
        target.pickBtn.tabIndex = 0;
        this.tabStop = target;
        target.pickBtn.focus();
      }
    });
  }

  bindHeader() {
    for (const btn of this.table.querySelectorAll('.head button[data-sort]')) {
      btn.addEventListener('click', () => this.setSort(btn.dataset.sort));
    }
    this.updateHeader();
  }

  updateHeader() {
    for (const btn of this.table.querySelectorAll('.head button[data-sort]')) {
      const th = btn.closest('[role="columnheader"]');
      const on = btn.dataset.sort === this.sort;
      const dir = btn.dataset.sort === 'size' ? (this.sortDir > 0 ? 'descending' : 'ascending') : this.sortDir > 0 ? 'ascending' : 'descending';
      if (on) th.setAttribute('aria-sort', dir);
      else th.removeAttribute('aria-sort');
      btn.dataset.dir = on ? dir : '';
    }
  }
}

function countDescendants(n) {
  let c = 0;
  for (const k of n.children) c += 1 + countDescendants(k);
  return c;
}

function pickValues(t) {
  return { live: t.live, peak: t.peak, soft: t.soft || 0, hard: t.hard || 0, dirty: true };
}

function pushSpark(n, v, tMs) {
  n.spark[n.sparkPos] = v;
  n.sparkT[n.sparkPos] = tMs || Date.now();
  n.sparkPos = (n.sparkPos + 1) % SPARK_N;
  if (n.sparkLen < SPARK_N) n.sparkLen++;
}

function drawSpark(n, dpr) {
  const c = n.canvas;
  const g = c.getContext('2d');
  const w = c.width;
  const h = c.height;
  g.clearRect(0, 0, w, h);
  const len = n.sparkLen;
  if (len < 1) return;
  let lo = Infinity;
  let hi = -Infinity;
  const start = (n.sparkPos - len + SPARK_N) % SPARK_N;
  for (let i = 0; i < len; i++) {
    const v = n.spark[(start + i) % SPARK_N];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  // Include the budget line when it is within reach, so the shape says how
  // close the tag runs to it.
  const hard = n.hard || 0;
  if (hard > 0 && hard < hi * 1.5) hi = Math.max(hi, hard);
  if (hi === lo) {
    hi += 1;
    lo = Math.max(0, lo - 1);
  }
  const pad = 2 * dpr;
  const y = (v) => h - pad - ((v - lo) / (hi - lo)) * (h - 2 * pad);
  // The samples there are span the whole cell (one sample: a flat line), so
  // a page opened a moment ago shows a line, not a sliver at the right edge;
  // once SPARK_N samples are in, the cell is the last 6 s.
  const x = (i) => (len < 2 ? i * (w - 1) : (i / (len - 1)) * (w - 1));
  if (hard > 0 && hard <= hi) {
    g.strokeStyle = 'rgba(248,113,113,0.7)';
    g.lineWidth = dpr;
    g.setLineDash([3 * dpr, 2 * dpr]);
    g.beginPath();
    g.moveTo(0, y(hard));
    g.lineTo(w, y(hard));
    g.stroke();
    g.setLineDash([]);
  }
  g.strokeStyle = STATE_COLOURS[n.state || 'none'];
  g.lineWidth = 1.25 * dpr;
  g.beginPath();
  for (let i = 0; i < len; i++) {
    const v = n.spark[(start + i) % SPARK_N];
    const px = x(i);
    if (i === 0) g.moveTo(px, y(v));
    else g.lineTo(px, y(v));
  }
  if (len === 1) g.lineTo(x(1), y(n.spark[start]));
  g.stroke();
}
