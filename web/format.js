// format.js — units, times and small DOM helpers shared by the dashboard's
// modules. Nothing here touches the network.
//
// Text from the API (tag paths, app and host names...) only ever reaches the
// page through textContent or attribute setters (el() below), never through
// innerHTML, so a tag named `<img onerror=...>` shows as those characters.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

// 1536 -> "1.5 KiB"; three significant digits at most, binary units as the
// library counts them.
export function fmtBytes(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '—';
  let v = Number(n);
  const neg = v < 0;
  if (neg) v = -v;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 ? 0 : v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${neg ? '-' : ''}${v.toFixed(digits)} ${UNITS[u]}`;
}

// Budgets read better without trailing zeros: "4 MiB", "1.5 MiB".
export function fmtBytesShort(n) {
  return fmtBytes(n).replace(/\.0+ /, ' ').replace(/(\.\d*?)0+ /, '$1 ');
}

// Whole percents from 10 on, but a rounded figure never claims a threshold
// (80 %, 100 %) that the usage has not reached: 99.7 reads "99.7 %", not
// "100 %" beside a bar that is not red.
export function fmtPct(p) {
  if (p === null || p === undefined || !Number.isFinite(p)) return '—';
  const tenth = (x) => `${(Math.floor(x * 10) / 10).toFixed(1)} %`;
  if (p < 10) return tenth(p);
  const r = Math.round(p);
  return (r === 80 || r === 100) && p < r ? tenth(p) : `${r} %`;
}

// The name of a tag path for people. The root tag (path "") is where
// untagged allocations count, and its usage includes every tag: fa-cli and
// the API call it "(root)" too.
export const ROOT_TAG_NAME = '(root)';
export const tagName = (path) => (path === '' || path === null || path === undefined ? ROOT_TAG_NAME : path);

// Round tick values for a bytes axis from lo to hi: steps of 1, 2, 2.5 or 5
// times a power of ten of the unit the axis shows (KiB, MiB...), so the
// labels read "200 KiB, 400 KiB" and not "195 KiB, 391 KiB". About `want`
// ticks; every tick lies in [lo, hi].
export function niceTicks(lo, hi, want = 4) {
  if (!(hi > lo)) return [lo];
  let unit = 1;
  while (hi / unit >= 1024 && unit < 1024 ** 4) unit *= 1024;
  const raw = (hi - lo) / unit / want;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const near = (m) => Math.abs(Math.log((m * pow) / raw));
  const step = [1, 2, 2.5, 5, 10].reduce((a, b) => (near(b) < near(a) ? b : a)) * pow * unit;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

export function fmtInt(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '—';
  return Math.round(Number(n)).toLocaleString('en-US');
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// Unix ms -> local "14:03:27".
export function fmtClock(ms) {
  if (!ms) return '—';
  const d = new Date(Number(ms));
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// Unix ms -> "2024-05-01 14:03" for things older than today.
export function fmtDateTime(ms) {
  if (!ms) return '—';
  const d = new Date(Number(ms));
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return fmtClock(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// Milliseconds -> "3 s", "4 min", "2 h 5 min".
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d`;
}

// Budget state of a usage in percent of the hard budget.
export function budgetState(pct) {
  if (pct === null || pct === undefined || !Number.isFinite(pct)) return 'none';
  if (pct >= 100) return 'crit';
  if (pct >= 80) return 'warn';
  return 'ok';
}

// el('div', {class: 'x', 'aria-label': y}, child, 'text') — text children
// become text nodes, so API strings are never parsed as HTML.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// Sets textContent only when it changed: cheap enough to call per frame for
// hundreds of cells without layout churn.
export function setText(node, text) {
  const s = String(text);
  if (node.textContent !== s) node.textContent = s;
}

// Numbers from the API may exceed 2^53 in theory (u64); the daemon prints
// them as JSON numbers, which JSON.parse turns into doubles. Bytes in use
// stay far below 2^53, so doubles are exact enough for display.
export const num = (v) => (v === null || v === undefined ? null : Number(v));
