// fleet.js — the Fleet page: one app's builds x tags across its sessions
// (GET /api/v1/fleet, see fa-insightd/API.md), every host that writes to
// the daemon's store. A cell links to its worst session on the session
// page (index.html#session=ID).

import { api, ApiError } from './api.js';
import { el, fmtBytes, fmtBytesShort, fmtClock, fmtDateTime, tagName } from './format.js';

const REFRESH_MS = 15000;
const $ = (id) => document.getElementById(id);

const state = { app: '', tag: '', sinceMs: 86400000, doc: null, loading: 0, error: null };

function params() {
  return { app: state.app, tag: state.tag, since: Date.now() - state.sinceMs };
}

// The page's choices live in the address (#app=...&tag=...&since=...), so
// a link or a reload shows the same table.
function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.has('app')) state.app = h.get('app');
  if (h.has('tag')) state.tag = h.get('tag');
  const s = Number(h.get('since'));
  if (s > 0) state.sinceMs = s;
}

function writeHash() {
  const h = new URLSearchParams();
  if (state.app) h.set('app', state.app);
  if (state.tag) h.set('tag', state.tag);
  h.set('since', String(state.sinceMs));
  history.replaceState(null, '', `#${h}`);
}

function setConn(kind, text) {
  $('conn').dataset.state = kind;
  $('conn-text').textContent = text;
}

function banner(kind, title, text) {
  const b = $('banner');
  b.hidden = !kind;
  if (!kind) return;
  b.dataset.kind = kind;
  $('banner-title').textContent = title;
  $('banner-text').textContent = text;
}

// Apps seen in the period, most recently active first.
async function loadApps() {
  const doc = await api.fleet({ since: Date.now() - state.sinceMs });
  const seen = new Map();
  for (const b of doc.builds) seen.set(b.app, Math.max(seen.get(b.app) || 0, b.last_seen_ms));
  const apps = [...seen.entries()].sort((a, b) => b[1] - a[1]).map(([a]) => a);
  if (state.app && !apps.includes(state.app)) apps.push(state.app);
  const sel = $('fleet-app');
  sel.replaceChildren(...apps.map((a) => el('option', { value: a }, a)));
  sel.disabled = apps.length === 0;
  if (!state.app && apps.length) state.app = apps[0];
  sel.value = state.app;
  return apps;
}

function cellText(t) {
  const budget = t.budget_hard
    ? `budget ${fmtBytesShort(t.budget_hard)} · ${t.over_budget} of ${t.sessions} over`
    : `no budget · ${t.sessions} sessions`;
  return [
    el('span', { class: 'p95' }, fmtBytes(t.peak.p95)),
    el('span', { class: 'sub' }, `p50 ${fmtBytes(t.peak.p50)} · max ${fmtBytes(t.peak.max)}`),
    el('span', { class: 'sub' }, budget),
    el('span', { class: 'sub' }, `per-frame avg p95 ${fmtBytes(t.avg.p95)}`),
  ];
}

function label(b, t) {
  const w = t.worst[0];
  const budget = t.budget_hard ? `, budget ${fmtBytes(t.budget_hard)}, ${t.over_budget} of ${t.sessions} sessions over it` : ', no budget';
  return `${tagName(t.tag)} in build ${b.build}: peak p95 ${fmtBytes(t.peak.p95)}, p50 ${fmtBytes(t.peak.p50)}, max ${fmtBytes(t.peak.max)}${budget}; state ${t.state}. Open the worst session, ${w.session} on ${w.host}.`;
}

function render() {
  const doc = state.doc;
  const thead = $('fleet-table').tHead;
  const tbody = $('fleet-table').tBodies[0];
  if (!doc) return;
  const tags = [...new Set(doc.builds.flatMap((b) => b.tags.map((t) => t.tag)))].sort();
  $('fleet-count').textContent = `${doc.builds.length} builds · ${tags.length} tags · ${doc.sessions} sessions`;
  $('fleet-empty').hidden = doc.builds.length > 0;
  thead.replaceChildren(
    el('tr', {}, el('th', { scope: 'col' }, 'Build'), ...tags.map((t) => el('th', { scope: 'col', 'data-tag': t }, tagName(t)))),
  );
  tbody.replaceChildren(
    ...doc.builds.map((b) => {
      const byTag = new Map(b.tags.map((t) => [t.tag, t]));
      const head = el(
        'th',
        { scope: 'row', class: 'build' },
        el('span', { class: 'name' }, b.build || '(no build id)'),
        el('span', { class: 'sub' }, `${b.sessions} sessions · ${b.hosts} hosts`),
        el('span', { class: 'sub' }, `last ${fmtDateTime(b.last_seen_ms)}`),
      );
      return el(
        'tr',
        { 'data-build': b.build },
        head,
        ...tags.map((tag) => {
          const t = byTag.get(tag);
          if (!t) return el('td', { class: 'none' }, '—');
          const w = t.worst[0];
          return el(
            'td',
            { 'data-state': t.state, 'data-tag': tag },
            el('a', { class: 'cell', href: `./#session=${w.session}`, 'aria-label': label(b, t), 'data-session': w.session }, ...cellText(t)),
          );
        }),
      );
    }),
  );
}

async function refresh() {
  const seq = ++state.loading;
  try {
    if (!state.app) await loadApps();
    const doc = state.app ? await api.fleet(params()) : { builds: [], sessions: 0 };
    if (seq !== state.loading) return;
    state.doc = doc;
    setConn('open', `updated ${fmtClock(Date.now())}`);
    banner(
      !state.app ? 'empty' : null,
      'No sessions yet.',
      'Games with fa-agent appear here once a daemon that writes to this store has stored them.',
    );
    render();
  } catch (e) {
    if (seq !== state.loading) return;
    const down = e instanceof ApiError && e.status === 0;
    setConn(down ? 'unreachable' : 'open', down ? 'daemon unreachable' : 'error');
    banner('unreachable', down ? 'The daemon is unreachable.' : 'The fleet view failed.', `${e.message}. The page retries by itself.`);
  }
}

function boot() {
  readHash();
  $('fleet-tag').value = state.tag;
  $('fleet-since').value = String(state.sinceMs);
  if ($('fleet-since').value !== String(state.sinceMs)) {
    state.sinceMs = 86400000;
    $('fleet-since').value = '86400000';
  }
  $('fleet-app').addEventListener('change', () => {
    state.app = $('fleet-app').value;
    writeHash();
    refresh();
  });
  $('fleet-since').addEventListener('change', () => {
    state.sinceMs = Number($('fleet-since').value);
    writeHash();
    loadApps().then(refresh, refresh);
  });
  let typing;
  $('fleet-tag').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.tag = $('fleet-tag').value.trim();
      writeHash();
      refresh();
    }, 300);
  });
  loadApps()
    .then(() => {
      writeHash();
      return refresh();
    })
    .catch(() => refresh());
  setInterval(refresh, REFRESH_MS);
  window.__faFleet = { state, refresh };
}

boot();
